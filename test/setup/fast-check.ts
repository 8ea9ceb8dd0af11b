// fast-check under CI: a fixed seed, so that a CI run is repeatable (local runs keep drawing new seeds,
// which is where new counterexamples are found; FC_SEED=N replays one), and a failing property is
// reported with the first counterexample found, not shrunk: shrinking has no bound on the runs it
// tries (a failing diagnosis property once shrank for over an hour on a 2-core machine, and the CI
// run timed out with nothing reported). FC_SHRINK=1 shrinks under CI too, FC_SHRINK=0 never.
import fc from 'fast-check';

const ci = Boolean(process.env.CI);
const shrink = process.env.FC_SHRINK !== undefined ? process.env.FC_SHRINK !== '0' : !ci;
const seed = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : ci ? 20261207 : undefined;
fc.configureGlobal({
  ...fc.readConfigureGlobal(),
  ...(shrink ? {} : { endOnFailure: true }),
  ...(seed !== undefined && Number.isInteger(seed) ? { seed } : {}),
});
