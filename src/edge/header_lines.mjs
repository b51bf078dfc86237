// Headers as they cross between the Worker's JavaScript shell (src/edge/worker.mjs) and Rust
// for a request answered at once, in one string each way (src/core/header_lines.rs). Apart
// from the shell so that `make bench`'s floor (bench/peers/floor, `/shell`) prices this very
// code.

/**
 * Headers as they cross to and from Rust for a request answered at once: each name and value
 * followed by a line break, which neither can hold (src/core/header_lines.rs).
 */
export function headerLines(headers) {
  let lines = '';
  for (const [name, value] of headers) lines += `${name}\n${value}\n`;
  return lines;
}

/** `[[name, value], …]` of header lines. */
export function headerPairs(lines) {
  const parts = lines.split('\n');
  const pairs = [];
  for (let i = 0; i + 1 < parts.length; i += 2) pairs.push([parts[i], parts[i + 1]]);
  return pairs;
}
