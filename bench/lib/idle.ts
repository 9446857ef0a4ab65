// An idle Node process with the tsx loader registered (how the raw loop and the simulators run): its RSS
// is the floor under any figure of ours that runs the TypeScript sources directly.
//   node bin/run-ts.mjs bench/lib/idle.ts      (prints READY, exits when stdin closes)
const keepAlive = setInterval(() => {}, 2 ** 30);
process.stdout.write('READY\n');
process.stdin.on('end', () => { clearInterval(keepAlive); process.exit(0); }).resume();
process.once('SIGTERM', () => process.exit(0));
