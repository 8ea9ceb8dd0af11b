// cert_not_yet_valid: the certificate's notBefore is after the time of the connection (RFC 5280
// 4.1.2.5). Most often a wrong clock (the client's, or the server's when it made its self-signed
// certificate), so its steps check both clocks and time sync before touching the certificate.
import type { Rule } from '../types.js';
import { certDateRule } from './cert_expired.js';

export const certNotYetValid: Rule = certDateRule('cert_not_yet_valid', 'not_yet_valid');
