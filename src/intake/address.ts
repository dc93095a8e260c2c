/**
 * Which IP addresses an image_url fetch may connect to. Anything that reaches
 * the gateway's own machine or network is refused: loopback, private ranges,
 * link-local (including the cloud metadata address 169.254.169.254),
 * unspecified, carrier-grade NAT, multicast, reserved and documentation
 * ranges, and IPv6 forms that embed one of those IPv4 addresses.
 */
import net from 'node:net';

type V4Range = readonly [base: number, prefix: number];

const V4_BLOCKED: readonly V4Range[] = [
  [ip4(0, 0, 0, 0), 8], // "this network", includes 0.0.0.0
  [ip4(10, 0, 0, 0), 8], // private
  [ip4(100, 64, 0, 0), 10], // carrier-grade NAT
  [ip4(127, 0, 0, 0), 8], // loopback
  [ip4(169, 254, 0, 0), 16], // link-local, cloud metadata
  [ip4(172, 16, 0, 0), 12], // private
  [ip4(192, 0, 0, 0), 24], // IETF protocol assignments
  [ip4(192, 0, 2, 0), 24], // documentation
  [ip4(192, 88, 99, 0), 24], // 6to4 relay anycast
  [ip4(192, 168, 0, 0), 16], // private
  [ip4(198, 18, 0, 0), 15], // benchmarking
  [ip4(198, 51, 100, 0), 24], // documentation
  [ip4(203, 0, 113, 0), 24], // documentation
  [ip4(224, 0, 0, 0), 4], // multicast
  [ip4(240, 0, 0, 0), 4], // reserved, includes broadcast
];

function ip4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

function parseV4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

function v4Blocked(n: number): boolean {
  return V4_BLOCKED.some(([base, prefix]) => {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return ((n & mask) >>> 0) === base;
  });
}

/** 16 bytes of an IPv6 address (zone id ignored), or null if it is not one. */
function parseV6(text: string): Uint8Array | null {
  const bare = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!net.isIPv6(bare)) return null;
  let head = bare;
  const words: number[] = [];
  // a trailing dotted quad stands for the last two words
  const dotted = /(?:^|:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(head);
  let tail: number[] = [];
  if (dotted) {
    const v4 = parseV4(dotted[1]!);
    if (v4 === null) return null;
    tail = [v4 >>> 16, v4 & 0xffff];
    head = head.slice(0, head.length - dotted[1]!.length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const toWords = (s: string): number[] => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const gap = head.indexOf('::');
  if (gap >= 0) {
    const left = toWords(head.slice(0, gap));
    const right = toWords(head.slice(gap + 2));
    const fill = 8 - left.length - right.length - tail.length;
    if (fill < 0) return null;
    words.push(...left, ...new Array<number>(fill).fill(0), ...right, ...tail);
  } else {
    words.push(...toWords(head), ...tail);
  }
  if (words.length !== 8 || words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) return null;
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  return bytes;
}

function v4At(b: Uint8Array, offset: number): number {
  return ((b[offset]! << 24) >>> 0) + (b[offset + 1]! << 16) + (b[offset + 2]! << 8) + b[offset + 3]!;
}

function startsWith(b: Uint8Array, prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const remaining = Math.min(8, bits - i);
    const mask = (0xff << (8 - remaining)) & 0xff;
    if ((b[i / 8]! & mask) !== ((prefix[i / 8] ?? 0) & mask)) return false;
  }
  return true;
}

function v6Blocked(b: Uint8Array): boolean {
  const zeroTo = (n: number): boolean => b.subarray(0, n).every((x) => x === 0);
  // ::/96 covers :: (unspecified), ::1 (loopback) and the deprecated IPv4-compatible form
  if (zeroTo(12)) {
    const v4 = v4At(b, 12);
    return v4 <= 1 || v4Blocked(v4);
  }
  // ::ffff:a.b.c.d, IPv4-mapped
  if (zeroTo(10) && b[10] === 0xff && b[11] === 0xff) return v4Blocked(v4At(b, 12));
  // 64:ff9b::/96, NAT64 to an IPv4 address
  if (startsWith(b, [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96)) return v4Blocked(v4At(b, 12));
  // 2002::/16, 6to4 carrying an IPv4 address
  if (startsWith(b, [0x20, 0x02], 16)) return v4Blocked(v4At(b, 2));
  const ranges: ReadonlyArray<readonly [readonly number[], number]> = [
    [[0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48], // local-use NAT64
    [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64], // discard-only
    [[0x20, 0x01, 0x00, 0x00], 32], // Teredo
    [[0x20, 0x01, 0x0d, 0xb8], 32], // documentation
    [[0xfc], 7], // unique local
    [[0xfe, 0x80], 10], // link-local
    [[0xfe, 0xc0], 10], // site-local (deprecated)
    [[0xff], 8], // multicast
  ];
  return ranges.some(([prefix, bits]) => startsWith(b, prefix, bits));
}

/**
 * True when the address may be connected to. Anything that is not a valid
 * IPv4 or IPv6 address is refused.
 */
export function isPublicAddress(address: string): boolean {
  const v4 = parseV4(address);
  if (v4 !== null) return !v4Blocked(v4);
  const v6 = parseV6(address);
  if (v6 !== null) return !v6Blocked(v6);
  return false;
}
