"""A receiver of agent-events webhooks that verifies every request, with the standard library only, and drops a
webhook that is not newer (by Agent-Event-Sequence) than the last one it applied for that agent.

    WEBHOOK_SECRET=whsec_... PORT=8080 python3 examples/python/receiver.py

The secret is the client's: GET /client/{client_id}/signing-secret/.
"""
import base64
import hashlib
import hmac
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl

SECRET = base64.b64decode(os.environ["WEBHOOK_SECRET"].removeprefix("whsec_"))
TOLERANCE_SECONDS = 300
# Per agent, the highest Agent-Event-Sequence applied: a webhook not newer than it is stale (a repeat or overtaken).
APPLIED = {}


def signed_content(method: str, path: str, body: str) -> str:
    """A POST's form body, or the parameters appended to a GET's URL (they start at agent_status=)."""
    if method == "POST":
        return body
    match = re.search(r"(?:^|&)(agent_status=.*)$", path.partition("?")[2])
    return match.group(1) if match else ""


def refusal(headers, content: str):
    """None when the request is signed with our secret and recent; otherwise why not."""
    webhook_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not webhook_id or not timestamp.isdigit() or not signatures:
        return "missing webhook headers"
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return "timestamp too old or too new"
    mac = hmac.new(SECRET, f"{webhook_id}.{timestamp}.{content}".encode(), hashlib.sha256)
    expected = "v1," + base64.b64encode(mac.digest()).decode()
    if any(hmac.compare_digest(expected, signature) for signature in signatures.split(" ")):
        return None
    return "no matching signature"


class Receiver(BaseHTTPRequestHandler):
    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        content = signed_content(self.command, self.path, body)
        why = refusal(self.headers, content)
        if why:
            print(f"refused {self.headers.get('webhook-id', '-')}: {why}", flush=True)
            self.answer(401)
            return
        webhook_id = self.headers["webhook-id"]
        fields = dict(parse_qsl(content, keep_blank_values=True))
        if self.headers.get("agent-event-test") == "true":
            print(f"verified {webhook_id} (test): {fields}", flush=True)
            self.answer(204)
            return
        # A sync (the agent's state sent on request) is applied like a change when it is newer.
        agent = f"{fields.get('agent_type')} agent {fields.get('agent_id')}"
        sequence = int(self.headers.get("agent-event-sequence", "0"))
        if agent in APPLIED and sequence <= APPLIED[agent]:
            print(f"dropped {webhook_id}: sequence {sequence} of {agent} is not newer than {APPLIED[agent]}", flush=True)
            self.answer(200, f"dropped: not newer than sequence {APPLIED[agent]}")
            return
        APPLIED[agent] = sequence
        sync = " (sync)" if self.headers.get("agent-event-sync") == "true" else ""
        print(f"verified {webhook_id}{sync}: {fields}", flush=True)
        self.answer(204)

    def answer(self, status: int, text: str = ""):
        self.send_response(status)
        self.end_headers()
        self.wfile.write(text.encode())

    do_GET = handle_any
    do_POST = handle_any

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = HTTPServer((os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8080"))), Receiver)
    print("listening", flush=True)
    sys.stdout.flush()
    server.serve_forever()
