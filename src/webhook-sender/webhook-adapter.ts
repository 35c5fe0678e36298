import type { AxiosAdapter, AxiosResponse } from 'axios';
import http from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';

/** The encodings a receiver may answer in; its body is decoded for the snippet the delivery log keeps. */
const ACCEPT_ENCODING = 'gzip, deflate, br';
/** A body cut short (a receiver that stops mid-answer) still gives what arrived instead of an error. */
const LENIENT = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };

function decoder(encoding: string | undefined): zlib.Gunzip | zlib.Unzip | zlib.BrotliDecompress | undefined {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
    case 'deflate':
      return zlib.createUnzip(LENIENT);
    case 'br':
      return zlib.createBrotliDecompress({
        flush: zlib.constants.BROTLI_OPERATION_FLUSH,
        finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
      });
    default:
      return undefined;
  }
}

declare module 'axios' {
  interface AxiosRequestConfig {
    /**
     * A webhook's own headers (its signature, sequence, content type...), sent by webhookAdapter as they are, beside
     * `headers`. axios merges and normalises every header of `headers` case-insensitively, one against each other,
     * for each request, and again when the adapter reads them: about 30 µs of CPU per webhook (bench/README.md).
     * These are built once, each under its own name, so they pass through as one object.
     */
    webhookHeaders?: Record<string, string>;
  }
}

/** The answer's headers the sender reads; axios normalises each header the adapter answers with, so only these go. */
const ANSWER_HEADERS = ['retry-after', 'location'] as const;

/** What the deadline destroys a request and its answer with (classified as a timeout by the sender). */
function deadlinePassed(timeoutMs: number): Error {
  return Object.assign(new Error(`timeout: the deadline of ${timeoutMs} ms passed`), { code: 'ABORT_ERR' });
}

/**
 * axios's adapter for the webhook requests: one `node:http`/`node:https` request with the config axios built (method,
 * URL, headers, body, agents, `timeout`), and the answer as a stream, decoded when the receiver compressed it.
 * axios's own HTTP adapter does the same with redirects, proxies, progress events, form data and more that a webhook
 * request never uses, at about 0.2 ms more CPU per request (bench/README.md, History): 8 % of the worker's CPU per
 * delivery at 200 changes/s. Whatever fails (connect, TLS, the address check of the agent's lookup, the deadline) rejects with Node's
 * error as it is; a status code is never an error here (the sender judges it).
 *
 * The request's headers are the webhook's own (`webhookHeaders`), in their order, then those of axios's `headers` they
 * do not name; the answer's, those the sender reads (ANSWER_HEADERS).
 *
 * `timeout` is the whole attempt's deadline: connect, answer and body. One timer per request destroys the request, or
 * its answer's stream once there is one, when it passes, and is cleared when that stream closes (read to its end, cut
 * short by the reader, or failed). An AbortSignal given to Node's request did the same at 30 µs more CPU per request
 * (its listeners; bench/README.md, History).
 */
export const webhookAdapter: AxiosAdapter = (config) =>
  new Promise<AxiosResponse<Readable>>((resolve, reject) => {
    const url = new URL(config.url!);
    const secure = url.protocol === 'https:';
    const headers: Record<string, string> = { ...config.webhookHeaders };
    const body = typeof config.data === 'string' ? config.data : undefined;
    const names = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
    // axios's own (its Content-Type for a POST) after the webhook's, unless the webhook has one of that name.
    for (const [name, value] of Object.entries(config.headers.toJSON(true) as Record<string, string>)) {
      if (names.has(name.toLowerCase())) continue;
      headers[name] = value;
      names.add(name.toLowerCase());
    }
    if (!names.has('accept-encoding')) headers['Accept-Encoding'] = ACCEPT_ENCODING;
    if (body !== undefined && !names.has('content-length')) headers['Content-Length'] = String(Buffer.byteLength(body));
    let answer: Readable | undefined;
    const timeoutMs = config.timeout ?? 0;
    const deadline =
      timeoutMs > 0
        ? setTimeout(() => {
            const error = deadlinePassed(timeoutMs);
            answer?.destroy(error);
            request.destroy(error);
          }, timeoutMs)
        : undefined;
    const request = (secure ? https : http).request(
      url,
      {
        method: (config.method ?? 'get').toUpperCase(),
        headers,
        agent: secure ? config.httpsAgent : config.httpAgent,
        signal: config.signal as AbortSignal | undefined,
      },
      (response) => {
        const decode =
          config.method?.toUpperCase() === 'HEAD' || response.statusCode === 204
            ? undefined
            : decoder(response.headers['content-encoding']);
        let data: Readable = response;
        if (decode) {
          delete response.headers['content-encoding'];
          // An error of either stream (an abort mid-body, a corrupt encoding) ends the decoded one with it.
          data = pipeline(response, decode, () => undefined);
        }
        answer = data;
        data.once('close', () => clearTimeout(deadline));
        resolve({
          data,
          status: response.statusCode ?? 0,
          statusText: response.statusMessage ?? '',
          headers: Object.fromEntries(
            ANSWER_HEADERS.flatMap((name) => (response.headers[name] === undefined ? [] : [[name, response.headers[name]]])),
          ),
          config,
          request,
        });
      },
    );
    request.on('error', (error) => {
      if (!answer) clearTimeout(deadline);
      reject(error);
    });
    request.end(body);
  });
