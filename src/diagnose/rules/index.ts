// One rule per cause, in catalogue order (src/diagnose/types.ts CAUSE_IDS), but the RD Gateway's
// causes (gateway_*): a gateway connection is no ConnectionRecord, so src/diagnose/gateway.ts
// (gatewayFindings) gives them as capture-wide findings.
import type { Rule } from '../types.js';
import { certExpired } from './cert_expired.js';
import { certNotYetValid } from './cert_not_yet_valid.js';
import { certUntrusted } from './cert_untrusted.js';
import { certRejected } from './cert_rejected.js';
import { certUnavailable } from './cert_unavailable.js';
import { certNameMismatch } from './cert_name_mismatch.js';
import { portBlocked } from './port_blocked.js';
import { portNotListening } from './port_not_listening.js';
import { serverUnresponsive } from './server_unresponsive.js';
import { securityLayerMismatch } from './security_layer_mismatch.js';
import { nlaMismatch } from './nla_mismatch.js';
import { nlaFailed } from './nla_failed.js';
import { tlsMismatch } from './tls_mismatch.js';
import { networkUnstable } from './network_unstable.js';
import { mtuBlackhole } from './mtu_blackhole.js';
import { dnsFailure } from './dns_failure.js';
import { serverDenied } from './server_denied.js';
import { clientAbort } from './client_abort.js';
import { standardRdpSecurity } from './standard_rdp_security.js';
import { noUserLogon } from './no_user_logon.js';

export const RULES: readonly Rule[] = [
  certExpired,
  certNotYetValid,
  certUntrusted,
  certRejected,
  certUnavailable,
  certNameMismatch,
  portBlocked,
  portNotListening,
  serverUnresponsive,
  securityLayerMismatch,
  nlaMismatch,
  nlaFailed,
  tlsMismatch,
  networkUnstable,
  mtuBlackhole,
  dnsFailure,
  serverDenied,
  clientAbort,
  standardRdpSecurity,
  noUserLogon,
];

/** The rules of warnings (a weakness of a connection that worked): the only ones run on completed connections. */
export const WARNING_RULES: readonly Rule[] = [standardRdpSecurity, noUserLogon];
