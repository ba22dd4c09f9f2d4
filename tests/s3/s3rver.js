'use strict';
/*
 * s3rver.js - the S3-compatible test server for i2v's blob store tests:
 * @20minutes/s3rver 4.0.4 (it verifies AWS Signature Version 4 of signed
 * headers and of presigned URLs) on 127.0.0.1, serving one bucket kept in a
 * folder, accepting one access key and its secret.
 *
 *   node tests/s3/s3rver.js --port 0 --dir /tmp/x --bucket b \
 *        [--access-key KEY --secret-key SECRET] [--verbose]
 *
 * The key and secret may come instead from I2V_S3RVER_ACCESS_KEY and
 * I2V_S3RVER_SECRET_KEY (s3server.py does so, keeping them off ps).
 *
 * Prints "s3rver listening on 127.0.0.1:PORT" once it accepts connections
 * (port 0 binds a free port), and stops on SIGTERM or SIGINT. The folder
 * keeps the objects across restarts. Started by s3server.py; run
 * `npm ci --prefix tests/s3` once first.
 */
const AWSAccount = require('@20minutes/s3rver/lib/models/account');
const S3rver = require('@20minutes/s3rver');

function parse(argv) {
  const opts = {
    port: 0,
    verbose: false,
    accessKey: process.env.I2V_S3RVER_ACCESS_KEY,
    secretKey: process.env.I2V_S3RVER_SECRET_KEY,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port') opts.port = Number(value());
    else if (a === '--dir') opts.dir = value();
    else if (a === '--bucket') opts.bucket = value();
    else if (a === '--access-key') opts.accessKey = value();
    else if (a === '--secret-key') opts.secretKey = value();
    else if (a === '--verbose') opts.verbose = true;
    else throw new Error(`unknown argument ${a}`);
  }
  for (const k of ['dir', 'bucket', 'accessKey', 'secretKey'])
    if (!opts[k]) throw new Error(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`);
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
    throw new Error('--port must be 0..65535');
  return opts;
}

async function main() {
  const opts = parse(process.argv.slice(2));
  // 4.0.4 keeps its accounts in a registry with one built-in key pair
  // (S3RVER/S3RVER); accept only ours.
  AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(opts.accessKey, opts.secretKey);
  const server = new S3rver({
    address: '127.0.0.1',
    port: opts.port,
    directory: opts.dir,
    silent: !opts.verbose,
    resetOnClose: false,
    allowMismatchedSignatures: false, // a wrong signature is 403
    vhostBuckets: false,
    configureBuckets: [{ name: opts.bucket }],
  });
  const { port } = await server.run();
  process.stdout.write(`s3rver listening on 127.0.0.1:${port}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // close() waits for keep-alive connections: drop them so a stop is quick
    server.close().then(() => process.exit(0), () => process.exit(0));
    if (server.httpServer.closeAllConnections) server.httpServer.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`s3rver.js: ${err.message}\n`);
  process.exit(2);
});
