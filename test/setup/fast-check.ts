// Under CI a failing property is reported with the first counterexample found, not shrunk: shrinking
// has no bound on the number of runs it tries (a failing diagnosis property once shrank for over an
// hour on a 2-core machine, and the CI run timed out with nothing reported). Locally, failures are
// shrunk as usual; FC_SHRINK=1 shrinks under CI too, FC_SHRINK=0 never.
import fc from 'fast-check';

const shrink = process.env.FC_SHRINK !== undefined ? process.env.FC_SHRINK !== '0' : !process.env.CI;
if (!shrink) fc.configureGlobal({ ...fc.readConfigureGlobal(), endOnFailure: true });
