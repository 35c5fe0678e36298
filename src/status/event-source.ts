/** Where a status change came from: the API (`PUT` of an agent's status) or the agent's own phone (the PBX). */
export const EVENT_SOURCES = ['api', 'phone'] as const;
export type EventSource = (typeof EVENT_SOURCES)[number];
