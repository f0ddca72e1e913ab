/*
 * GraphiQL page: the in-browser IDE on a browser's GET of /graphql, rendered once and kept
 * compressed.
 *
 * Mechanism. The page inlines GraphiQL's scripts so that it works offline, which makes it
 * about 9 MB. Yoga rendered it and sent it uncompressed on every request, so twenty
 * browsers loading it delayed ordinary queries by seconds. Here it is rendered on the
 * first request and kept as bytes, and each encoding (brotli, gzip, identity) is
 * compressed on first demand on libuv's thread pool, off the event loop, and then kept.
 * A request gets the encoding it prefers by Accept-Encoding (brotli on a tie), with a
 * strong ETag per encoding, `Vary: Accept-Encoding` and `Cache-Control: no-cache`, so a
 * browser revalidates each visit and gets a bodiless 304 when If-None-Match matches.
 * HEAD gets the headers alone.
 *
 * Measured on the page of @graphql-yoga/render-graphiql 5.24 (9.05 MB): gzip level 6
 * gives 2.44 MB in about 190 ms, brotli quality 5 gives 1.95 MB in about 210 ms; quality
 * 11 would save 0.2 MB more for 13 s of CPU.
 */

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

type Coding = 'br' | 'gzip' | 'identity';

interface Representation {
  readonly coding: Coding;
  readonly body: Buffer;
  readonly etag: string;
}

/** zlib's middle level: within 0.5% of level 9's size at half its time. */
export const GZIP_LEVEL = 6;
/** Brotli's quality 5: 20% smaller than gzip for about the same time; higher qualities cost seconds. */
export const BROTLI_QUALITY = 5;

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** Whether a request is a browser's navigation to the page: GET or HEAD that accepts HTML, as yoga decides. */
export function wantsGraphiql(method: string | undefined, accept: string | undefined): boolean {
  return (method === 'GET' || method === 'HEAD') && accept !== undefined && accept.toLowerCase().includes('text/html');
}

/** The encoding to send for an Accept-Encoding header: brotli or gzip by quality value, else identity. */
export function preferredCoding(acceptEncoding: string | undefined): Coding {
  if (acceptEncoding === undefined) return 'identity';
  const quality = new Map<string, number>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [coding = '', ...parameters] = part.split(';').map((piece) => piece.trim());
    const q = parameters.find((p) => p.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    if (coding !== '') quality.set(coding, Number.isFinite(value) ? value : 0);
  }
  const of = (coding: Coding) => quality.get(coding) ?? quality.get('*') ?? 0;
  const br = of('br');
  const gz = of('gzip');
  if (br > 0 && br >= gz) return 'br';
  if (gz > 0) return 'gzip';
  return 'identity';
}

function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

export class GraphiqlPage {
  private html: { body: Buffer; hash: string } | undefined;
  private readonly representations = new Map<Coding, Promise<Representation>>();

  constructor(private readonly render: () => string) {}

  /** Sends the page, a 304 or, for HEAD, the headers alone. `headers` are added to every answer. */
  async serve(request: IncomingMessage, response: ServerResponse, headers: Record<string, string> = {}): Promise<void> {
    const representation = await this.representation(preferredCoding(request.headers['accept-encoding']));
    const common = { ...headers, etag: representation.etag, 'cache-control': 'no-cache', vary: 'Accept-Encoding' };
    if (matchesEtag(request.headers['if-none-match'], representation.etag)) {
      response.writeHead(304, common);
      response.end();
      return;
    }
    response.writeHead(200, {
      ...common,
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(representation.body.length),
      'x-content-type-options': 'nosniff',
      ...(representation.coding === 'identity' ? {} : { 'content-encoding': representation.coding }),
    });
    response.end(request.method === 'HEAD' ? undefined : representation.body);
  }

  private identity(): { body: Buffer; hash: string } {
    if (this.html === undefined) {
      const body = Buffer.from(this.render());
      this.html = { body, hash: createHash('sha256').update(body).digest('base64url').slice(0, 22) };
    }
    return this.html;
  }

  private representation(coding: Coding): Promise<Representation> {
    let pending = this.representations.get(coding);
    if (pending === undefined) {
      pending = this.compress(coding);
      this.representations.set(coding, pending);
      // A failed compression is retried by the next request rather than kept.
      pending.catch(() => this.representations.delete(coding));
    }
    return pending;
  }

  private async compress(coding: Coding): Promise<Representation> {
    const { body, hash } = this.identity();
    const etag = `"${hash}-${coding}"`;
    switch (coding) {
      case 'identity':
        return { coding, body, etag };
      case 'gzip':
        return { coding, body: await gzipAsync(body, { level: GZIP_LEVEL }), etag };
      case 'br':
        return {
          coding,
          body: await brotliAsync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } }),
          etag,
        };
    }
  }
}
