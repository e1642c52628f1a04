/**
 * Evaluated first by every bin/ launcher. The launcher's shell line starts Node with
 * NODE_EXTRA_CA_CERTS cleared (Node 20 reads and parses that certificate bundle while it starts,
 * ~70 ms, and the tools open no TLS connection) and keeps the value in IMGKIT_EXTRA_CA_CERTS; this
 * puts it back for the commands a tool runs (squashfs -pf 'f' definitions). Started as
 * `node bin/<tool>`, the variable was never moved and nothing changes.
 */
const env = process.env;
const kept = env.IMGKIT_EXTRA_CA_CERTS;
if (kept !== undefined) {
  if (kept !== '') env.NODE_EXTRA_CA_CERTS = kept;
  else delete env.NODE_EXTRA_CA_CERTS;
  delete env.IMGKIT_EXTRA_CA_CERTS;
}

export {};
