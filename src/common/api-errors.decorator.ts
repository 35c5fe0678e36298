import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiResponse, type OpenAPIObject } from '@nestjs/swagger';

export class ErrorResponseDto {
  @ApiProperty({ example: 'Client 12 does not exist.', description: 'A sentence for people.' })
  message!: string;

  @ApiProperty({ example: 'client_not_found', description: 'A machine-readable code.' })
  status!: string;
}

/** One error an operation can answer, with the sentence the API really says (ids of the spec's worked example). */
export interface ErrorExample {
  httpStatus: number;
  status: string;
  message: string;
  /** Tells apart two examples of one code on one operation, e.g. a bad path id and a bad body field. */
  case?: string;
}

export const errorExample = (httpStatus: number, status: string, message: string, exampleCase?: string): ErrorExample => ({
  httpStatus,
  status,
  message,
  ...(exampleCase ? { case: exampleCase } : {}),
});

/** Documents the errors an operation can answer: per HTTP status the `{"message", "status"}` body, one example per error. */
export const ApiErrors = (...errors: ErrorExample[]) => {
  const byHttpStatus = new Map<number, ErrorExample[]>();
  for (const error of errors) byHttpStatus.set(error.httpStatus, [...(byHttpStatus.get(error.httpStatus) ?? []), error]);
  return applyDecorators(
    ...[...byHttpStatus].map(([httpStatus, examples]) =>
      ApiResponse({
        status: httpStatus,
        description: [...new Set(examples.map((example) => `\`${example.status}\``))].join(', '),
        type: ErrorResponseDto,
        examples: Object.fromEntries(
          examples.map((example) => [
            example.case ? `${example.status} (${example.case})` : example.status,
            { summary: example.message, value: { message: example.message, status: example.status } },
          ]),
        ),
      }),
    ),
  );
};

/**
 * Local and remote agents share their operations (and so their documented examples), but the API names the agent's
 * type in `agent_not_found`: on a remote agent's path the examples say "remote agent", as the API does there.
 */
export function documentAgentTypes(document: OpenAPIObject): void {
  for (const [path, item] of Object.entries(document.paths)) {
    if (!/\/agent\/remote(\/|$)/.test(path)) continue;
    for (const operation of Object.values(item) as { responses?: Record<string, ResponseWithExamples> }[]) {
      for (const response of Object.values(operation?.responses ?? {})) {
        const content = response.content?.['application/json'];
        if (!content?.examples) continue;
        // The objects are shared with the local path's operation: replace them rather than change them.
        content.examples = Object.fromEntries(
          Object.entries(content.examples).map(([key, example]) => {
            const message = example.value.message.replace('local agent', 'remote agent');
            return [key, { summary: message, value: { ...example.value, message } }];
          }),
        );
      }
    }
  }
}

type ResponseWithExamples = {
  content?: Record<string, { examples?: Record<string, { summary: string; value: { message: string; status: string } }> }>;
};
