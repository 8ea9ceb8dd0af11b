// The cause catalogue (../shared/design.md "Causes"): what each cause is, what a
// capture shows of it, how to fix and confirm it. Data only: docs/causes.md is
// generated from it (src/diagnose/gen-docs.ts) and the rules pick their
// remediation steps from it.
import { CAUSE_IDS, type Cause, type CauseId } from './types.js';

/**
 * Remediation steps drawn from the seed documents (../shared/seeds), in plain
 * words. `seedTerms` are the exact phrases a reader can find in the seeds (a
 * test checks that every one of them occurs there and in the step's text); a
 * step from field experience that the seeds do not hold has `source: 'field'`
 * and no seed terms. Reports never name the seeds: they speak of Microsoft's
 * documentation or field experience.
 */
export const STEPS = {
  renewCert: {
    text: 'On the server, open certlm.msc (Win + R, certlm.msc), go to Remote Desktop > Certificates, check the expiry date of the certificate used for Remote Desktop, and delete it if it has expired.',
    seedTerms: ['certlm.msc', 'Remote Desktop > Certificates'],
  },
  trustCert: {
    text: "Give the host a certificate its clients trust: one issued by your enterprise CA for the host's full DNS name (the Group Policy setting Computer Configuration > Administrative Templates > Windows Components > Remote Desktop Services > Remote Desktop Session Host > Security > \"Server authentication certificate template\" enrolls it automatically), or, where a self-signed certificate is meant to stay, put it (or its issuer) into the clients' Trusted Root Certification Authorities store by Group Policy. Deleting the certificate only makes Windows create another self-signed one, which clients distrust in the same way.",
    seedTerms: [],
    source: 'field',
  },
  checkClocks: {
    text: "First check the date, time and time zone of both machines (client and host), and that they sync their time: `w32tm /query /status` shows each one's time source and last sync, `w32tm /resync` (administrator Command Prompt) syncs it now. A clock that runs behind makes a valid certificate look not yet valid; correct it and connect again before touching the certificate.",
    seedTerms: [],
    source: 'field',
  },
  renewFutureCert: {
    text: 'Only if both clocks are right and the certificate\'s "Valid from" date is still in the future (it was issued with a wrong date): on the server, open certlm.msc (Win + R, certlm.msc), go to Remote Desktop > Certificates, and delete that certificate.',
    seedTerms: ['certlm.msc', 'Remote Desktop > Certificates'],
  },
  restartTermService: {
    text: 'Restart the Remote Desktop Services service so that Windows creates a new certificate: `net stop termservice && net start termservice` in an administrator Command Prompt, or `Restart-Service TermService -Force` in PowerShell (or restart the server).',
    seedTerms: ['net stop termservice && net start termservice'],
  },
  azureMachineKeys: {
    text: 'On an Azure VM, a corrupt MachineKeys folder stops Windows from creating the certificate: in the Azure portal open the VM, choose Run Command > RunPowerShellScript, run `Rename-Item -Path "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys" -NewName "MachineKeys_old"`, then reboot the VM from the portal.',
    seedTerms: ['MachineKeys', 'RunPowerShellScript', 'Rename-Item -Path "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys" -NewName "MachineKeys_old"'],
  },
  firewallRules: {
    text: 'On both machines, open "Allow an app through Windows Firewall", click Change settings, and make sure Remote Desktop and Remote Desktop (WebSocket) are checked for both Private and Public networks; check any network firewall or cloud security group between them for port 3389 too.',
    seedTerms: ['Allow an app through Windows Firewall', 'Remote Desktop (WebSocket)', 'Private and Public'],
  },
  allowMstsc: {
    text: 'Allow C:\\Windows\\System32\\mstsc.exe through the firewall (Allow another app) and in any third-party antivirus on the client.',
    seedTerms: ['C:\\Windows\\System32\\mstsc.exe'],
  },
  testPort: {
    text: 'From the client, check that the port is reachable: `Test-NetConnection <host> -Port 3389` in PowerShell.',
    seedTerms: ['Test-NetConnection', '-Port 3389'],
  },
  portChanged: {
    text: 'If the default port has been changed or is not listening, the connection fails at once: check that the Remote Desktop Services service is running on the host and which port it listens on, and connect to that port.',
    seedTerms: ['If the default port has been changed or is not listening'],
  },
  connectByIp: {
    text: "Connect using the server's IP address instead of its hostname.",
    seedTerms: ['IP address instead of'],
  },
  flushDns: {
    text: "Clear the client's DNS cache: `ipconfig /flushdns` in a Command Prompt.",
    seedTerms: ['ipconfig /flushdns'],
  },
  checkDnsRecord: {
    text: "Check the DNS record of the server's name: `nslookup <name>` or `Resolve-DnsName <name>` on the client must return the server's current address; if the lookup fails, create or fix the record on the DNS server (or check which DNS server the client uses with `ipconfig /all`), and use the static IP address for the connection until it is fixed.",
    seedTerms: ['static IP address for the connection'],
  },
  vpnReconnect: {
    text: 'If the connection goes through a VPN, try disconnecting and reconnecting the VPN, and check that it is not slow or losing packets, before trying again.',
    seedTerms: ['disconnecting and reconnecting the VPN'],
  },
  maxOutstanding: {
    text: 'If the host receives many connection attempts at once, raise its limit of pending connections in an administrator Command Prompt on the host: `REG ADD "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server" /v MaxOutstandingConnections /t REG_DWORD /d 65536`, then restart the host.',
    seedTerms: ['REG ADD "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server" /v MaxOutstandingConnections /t REG_DWORD /d 65536'],
  },
  securityLayerPolicy: {
    text: 'On the host, open gpedit.msc > Computer Configuration > Administrative Templates > Windows Components > Remote Desktop Services > Remote Desktop Session Host > Security, and set "Require use of specific security layer for remote (RDP) connections" to a layer the client supports (Negotiate lets both sides agree).',
    seedTerms: ['gpedit.msc', 'Remote Desktop Session Host', 'Require use of specific security layer for remote (RDP) connections'],
  },
  xrdpSecurityLayer: {
    text: 'On a Linux host running xrdp, the same choice is `security_layer` in the [Globals] section of /etc/xrdp/xrdp.ini (`negotiate` lets both sides agree; `tls` or `rdp` forces one; `certificate=` and `key_file=` name the TLS certificate), applied by `systemctl restart xrdp`. xrdp does not offer NLA (CredSSP): a client that requires NLA must be allowed to connect to it without (`enablecredsspsupport:i:0` in the .rdp file).',
    seedTerms: [],
    source: 'field',
  },
  nlaPolicy: {
    text: 'On the host, in gpedit.msc > Computer Configuration > Administrative Templates > Windows Components > Remote Desktop Services > Remote Desktop Session Host > Security, the policy "Require user authentication for remote connections by using Network Level Authentication" decides whether NLA is required; make client and host agree, and disable it only as a temporary test to see whether the handshake then gets through.',
    seedTerms: ['Require user authentication for remote connections by using Network Level Authentication'],
  },
  updateClient: {
    text: 'Update the client: use the latest version of the Microsoft Remote Desktop app, or a current mstsc with the latest Windows updates.',
    seedTerms: ['latest version of the Microsoft Remote Desktop app'],
  },
  stuckSessions: {
    text: 'On the host, list the sessions with `qwinsta` and reset a stuck one with `rwinsta <id>`.',
    seedTerms: ['qwinsta', 'rwinsta'],
  },
  tlsSecurityLayer: {
    text: 'Once the problem that made TLS fail is fixed, set "Require use of specific security layer for remote (RDP) connections" on the host (gpedit.msc > ... > Remote Desktop Session Host > Security) back to SSL or Negotiate, and not RDP: the RDP layer encrypts with RC4 and does not authenticate the server.',
    seedTerms: ['Require use of specific security layer for remote (RDP) connections'],
  },
  rdLicensing: {
    text: "On the session host, check its Remote Desktop licensing: RD Licensing Diagnoser (lsdiag.msc) names the licensing mode and the license servers the host uses and what is wrong with them; set both in Server Manager > Remote Desktop Services > Deployment Properties > RD Licensing (or the Group Policy settings \"Use the specified Remote Desktop license servers\" and \"Set the Remote Desktop licensing mode\"), make sure a license server is reachable from the host and has Remote Desktop Services CALs of that mode installed and activated (RD Licensing Manager, licmgr.exe).",
    seedTerms: [],
    source: 'microsoft',
  },
  pathMtu: {
    text: 'Make full-size packets pass the path: on the client, lower the MTU of the VPN or tunnel interface (`netsh interface ipv4 set subinterface "<name>" mtu=1400 store=persistent`, the name from `netsh interface ipv4 show subinterfaces`), or have the network team let ICMP "fragmentation needed" (type 3 code 4; ICMPv6 "packet too big") through the firewalls on the path, or clamp the TCP MSS on the tunnel\'s router.',
    seedTerms: [],
    source: 'field',
  },
  restartBoth: {
    text: 'Restart both machines (client and host) to clear a hung service or a network glitch.',
    seedTerms: ['Restart Both Machines'],
  },
  logonEvents: {
    text: "On the host, read the Security event log at the session's time: event 4625 (An account failed to log on) with Logon Type 10 (RemoteInteractive) names why a logon at the Remote Desktop logon screen failed, event 4624 with Logon Type 10 is one that succeeded; ask the user what the remote screen showed (the logon screen, a wrong password, a password to change, a message to accept).",
    seedTerms: [],
    source: 'field',
  },
  requireNla: {
    text: 'Require Network Level Authentication on the host (gpedit.msc > ... > Remote Desktop Session Host > Security, "Require user authentication for remote connections by using Network Level Authentication"): the credentials are then checked before a session and its logon screen are created, and a wrong password is reported by the client at once.',
    seedTerms: ['Require user authentication for remote connections by using Network Level Authentication'],
  },
  gatewayCap: {
    text: "On the gateway, open RD Gateway Manager, expand the server > Policies > Connection Authorization Policies: an enabled RD CAP must list a user group that holds the user (and, when it names computer groups, the client computer's group), and allow the way the client authenticates (password or smart card). The gateway's Microsoft-Windows-TerminalServices-Gateway/Operational event log names the policy check that failed.",
    seedTerms: [],
    source: 'microsoft',
  },
  gatewayAccount: {
    text: "Check the user's account in Active Directory Users and Computers: not locked out, not disabled or expired, its password not expired or due to change at next logon, and its logon hours and \"Log On To\" computers allowing the gateway (a 401 \"User Account Restricted\" names one of these); have the user sign in with the domain\\user form the gateway expects.",
    seedTerms: [],
    source: 'microsoft',
  },
  gatewayRap: {
    text: "On the gateway, open RD Gateway Manager > Policies > Resource Authorization Policies: an enabled RD RAP must list a user group that holds the user, and its network resource (an RD Gateway-managed group, an Active Directory computer group, or any network resource) must hold the target exactly as the client names it (the FQDN, the NetBIOS name and the IP address are different entries), with the target's port (3389 unless changed) among the allowed ports.",
    seedTerms: [],
    source: 'microsoft',
  },
  gatewayReachTarget: {
    text: "On the gateway, check that it can reach the target: `Resolve-DnsName <target>` and `Test-NetConnection <target> -Port 3389` in PowerShell on the gateway itself; open the target's firewall to the gateway's address on that port, and check that Remote Desktop is enabled and the target is running.",
    seedTerms: [],
    source: 'microsoft',
  },
  gatewayKdcProxy: {
    text: "On the gateway, check the KDC proxy: the \"Kerberos Proxy Service\" (KPSSVC) must run, its URL reservation must exist (`netsh http show urlacl` lists https://+:443/KdcProxy), its settings are under `HKLM\\SOFTWARE\\Microsoft\\KPSSVC` (HttpsClientAuth, DisallowUnprotectedPasswordAuth), and the gateway must reach a domain controller on port 88.",
    seedTerms: [],
    source: 'microsoft',
  },
  gatewayKdcProxyClient: {
    text: "On the client, point Kerberos at the gateway's KDC proxy: `kdcproxyname:s:<gateway FQDN>` in the RDP file (RD Web Access and RemoteApp deployments set it in the deployment's custom RDP properties), or the group policy Computer Configuration > Administrative Templates > System > Kerberos > \"Specify KDC proxy servers for Kerberos clients\".",
    seedTerms: [],
    source: 'microsoft',
  },
  gatewayService: {
    text: "On the gateway, check the Remote Desktop Gateway service (TSGateway) and IIS are running, the certificate chosen in RD Gateway Manager > server Properties > SSL Certificate is valid and names the gateway as the clients connect to it, and read the Microsoft-Windows-TerminalServices-Gateway/Operational event log at the time of the refusal.",
    seedTerms: [],
    source: 'microsoft',
  },
  gatewayCertReplace: {
    text: "On the gateway, open RD Gateway Manager, right-click the server > Properties > SSL Certificate tab, and import (\"Import Certificate\") a certificate from the computer's Personal store that is in date, whose subject or subject alternative name is the gateway's name exactly as the clients use it, and that chains to a root the clients trust; then restart the Remote Desktop Gateway service (TSGateway). With RD Connection Broker, set the same certificate for the \"RD Gateway\" role in Server Manager > Remote Desktop Services > Deployment Properties > Certificates.",
    seedTerms: [],
    source: 'microsoft',
  },
  gatewayCertClientName: {
    text: "On the client, connect to the gateway by the name its certificate carries: the RD Gateway server name in mstsc (Show Options > Advanced > Connect from anywhere > Settings), or `gatewayhostname:s:` in the .rdp file the user opens (RD Web Access writes it from the deployment's settings).",
    seedTerms: [],
    source: 'microsoft',
  },
  gatewayCertClientTrust: {
    text: "On the client, the gateway's certificate must chain to a trusted root: a certificate from the enterprise CA needs that CA's root in the client's Trusted Root Certification Authorities (certlm.msc, or the domain's Group Policy for machines outside it); a self-signed gateway certificate must be imported there by hand (certlm.msc > Trusted Root Certification Authorities > Certificates > All Tasks > Import), which is why a CA-issued certificate is the better fix. The gateway must also send its intermediate CA certificates (they belong in its computer's Intermediate Certification Authorities store).",
    seedTerms: [],
    source: 'microsoft',
  },
} as const satisfies Record<string, { text: string; seedTerms: readonly string[]; source?: 'field' | 'microsoft' }>;

export type StepId = keyof typeof STEPS;

export function stepText(id: StepId): string {
  return STEPS[id].text;
}

interface CauseDef extends Omit<Cause, 'id' | 'remediation' | 'severity'> {
  /** Default 'failure'. */
  severity?: 'warning';
  steps: StepId[];
  /** A short phrase for per-server summaries ("12 blocked by a firewall (no SYN-ACK)"). */
  short: string;
}

const ERR_0X904 =
  '0x904 is disconnectReasonAtClientWinsockFDCLOSE: the client saw its socket closed under it (by the server, by a device in between, or by its own stack) before the session was up. Extended code 0x7 is exDiscReasonServerDeniedConnection in Microsoft\'s ExtendedDisconnectReasonCode list; mstsc shows it with 0x904 for many handshakes ended during initialization, so the pair names a symptom, not a cause.';

const ERR_GATEWAY_CERT =
  "Not as 0x904: mstsc checks the RD Gateway's certificate itself and stops before any RDP handshake with its own RD Gateway message (that it cannot verify the identity of the RD Gateway, or that the gateway's certificate has expired or names another computer); unlike a host's certificate, it offers no way to connect anyway.";

/** How every gateway_cert_* finding is read (the start of its `signals`). */
const GATEWAY_CERT_SIGNALS =
  "Read without keys (the gateway's TLS 1.2 Certificate message is in the clear; TLS 1.3 encrypts it), only for a connection the report names an RD Gateway's (shown or likely, never HTTPS that only could be one), and only when the client stopped right after the TLS handshake without sending a request: ";

const ERR_GATEWAY =
  "Not as 0x904: the gateway's refusal comes back inside the gateway's own protocol (an HTTP status, or an MS-TSGU result code), and mstsc shows its own RD Gateway message naming the gateway, not the 0x904 / 0x7 of a connection dropped during the RDP handshake.";

const DEFS: Record<CauseId, CauseDef> = {
  cert_expired: {
    title: "The server's Remote Desktop certificate has expired",
    short: "refused: the server's certificate expired",
    explanation:
      'Remote Desktop hosts use a self-signed certificate that does not always renew itself. Once it is past its end date (or if it is corrupt), the client refuses it and drops the connection right after the TLS handshake.',
    steps: ['renewCert', 'restartTermService', 'azureMachineKeys', 'restartBoth'],
    confirm:
      'On the host, open certlm.msc > Remote Desktop > Certificates and compare the certificate\'s "Expiration Date" with today; check both machines\' clocks. The client\'s Microsoft-Windows-TerminalServices-RDPClient/Operational event log records the failed certificate check.',
    ifUnsure:
      'Check the certificate on the host (certlm.msc > Remote Desktop > Certificates) and the clocks of both machines; if the capture\'s own clock may be wrong, compare a frame\'s time with a known event.',
    evidence:
      "The Certificate message's notAfter is before the time of the capture; a client alert certificate_expired / bad_certificate, or (as mstsc and FreeRDP usually do) the client finishing TLS and then closing with an encrypted alert or a FIN.",
    errorCode: `Yes: field experience and Microsoft's troubleshooting guidance name an expired self-signed certificate as a frequent cause of 0x904 / 0x7. The client closes the socket itself during security setup, and mstsc reports the dropped handshake as 0x904. ${ERR_0X904}`,
  },
  cert_not_yet_valid: {
    title: "The server's certificate is not valid yet (a clock is wrong, or it was issued with a future date)",
    short: "refused: the server's certificate is not valid yet",
    explanation:
      "The certificate's start date (notBefore) is later than the time of the connection. Most often a clock is wrong: the client's runs behind, or the server's ran ahead when it created its self-signed certificate; more rarely the certificate was issued with a future date. The client refuses it and drops the connection right after the TLS handshake. Deleting the certificate does not help while a clock is wrong.",
    steps: ['checkClocks', 'renewFutureCert', 'restartTermService'],
    confirm:
      'Compare the clocks of client and host with a trusted time source (`w32tm /stripchart /computer:time.windows.com /samples:3 /dataonly`); on the host, certlm.msc > Remote Desktop > Certificates shows the certificate\'s "Valid from" date. The client\'s Microsoft-Windows-TerminalServices-RDPClient/Operational event log records the failed certificate check.',
    ifUnsure:
      "The capture's own clock dates the connection: if the capturing machine's clock may be wrong too, compare a frame's time with a known event before trusting the dates.",
    evidence:
      "The Certificate message's notBefore is after the time of the capture; a client alert certificate_expired / bad_certificate, or the client finishing TLS and then closing with an encrypted alert or a FIN.",
    errorCode: `Yes: the client refuses the certificate and closes the socket itself during security setup, and mstsc reports the dropped handshake as 0x904. ${ERR_0X904}`,
  },
  cert_untrusted: {
    title: 'The client does not trust the server certificate (self-signed or unknown issuer)',
    short: 'refused: certificate not trusted by the client',
    explanation:
      'The certificate is in date and names the server, but it is self-signed or issued by an authority the client does not trust ("the identity of the remote computer cannot be verified"). The user declined the warning, or a policy makes the client refuse such certificates.',
    steps: ['trustCert', 'updateClient'],
    confirm:
      'Connect once by hand with mstsc and read the certificate warning it shows (issuer and "not from a trusted certifying authority"). On the host, certlm.msc > Remote Desktop > Certificates shows which certificate is in use and who issued it.',
    ifUnsure:
      "Check the certificate on the host (certlm.msc > Remote Desktop > Certificates) and whether its issuer is in the client's Trusted Root Certification Authorities; the client's Microsoft-Windows-TerminalServices-RDPClient/Operational log records the refusal.",
    evidence:
      'A valid, unexpired, name-matching certificate that is self-signed or from an issuer not in the chain the server sent; a client alert unknown_ca, or the client closing (or sending an encrypted alert) right after the handshake.',
    errorCode:
      'Usually not: mstsc shows a certificate warning that the user can accept; only when the warning is declined or a policy refuses the certificate does the client close the connection, and mstsc then reports the cancelled connection rather than a network error. Clients embedded in other tools may report it as a generic 0x904.',
    signals:
      "The certificate is read from the TLS 1.2 (or older) handshake: in date, and self-signed or issued by a name not in the chain the server sent. A client alert unknown_ca is near proof (93%); bad_certificate / certificate_unknown 75%. A client that finishes the TLS handshake and then closes (FIN, reset or an encrypted alert, no application data) has judged the certificate: 60% (self-signed) or 55% (unknown issuer), since the capture cannot show the user's answer to mstsc's prompt. When the server selected NLA (HYBRID or HYBRID_EX) and the client left before its first CredSSP message, 45% (self-signed) or 40% (unknown issuer): mstsc goes on into CredSSP before it judges the certificate, so such a client checked it at once (FreeRDP-based clients, a client-side policy) or only fetched it (a scanner or a monitoring probe). This holds whatever protocol the server selected: mstsc and FreeRDP offer PROTOCOL_SSL next to HYBRID, so a server selecting SSL for a client that offered HYBRID is a normal choice, not an NLA mismatch (a client requiring NLA leaves at the Connection Confirm, before any ClientHello). A client stopping inside CredSSP before its credentials is 45%, lower again because an authentication error looks the same from outside.",
  },
  cert_rejected: {
    title: 'The client refused the server certificate for a reason the capture cannot show',
    short: 'refused by the client right after the TLS handshake',
    explanation:
      "The client ended the connection right after the server's TLS handshake flight, which is what clients do when they reject the certificate. Under TLS 1.3 the certificate is encrypted, so the capture cannot show whether it expired, is untrusted or names another host.",
    steps: ['renewCert', 'restartTermService', 'trustCert', 'updateClient'],
    confirm:
      'On the host, open certlm.msc > Remote Desktop > Certificates and check the certificate\'s expiry date, issuer and name; on the client, the Microsoft-Windows-TerminalServices-RDPClient/Operational event log names the certificate error.',
    ifUnsure:
      'Check the certificate on the host (certlm.msc); capture again with a TLS key log (SSLKEYLOGFILE with a client that supports it) or force TLS 1.2 to see the certificate; a capture on the server side shows whether the server sent it whole.',
    evidence:
      "The client closes, or sends an encrypted alert, right after the server's handshake flight, with the certificate hidden (TLS 1.3) or looking valid.",
    errorCode: `Often: a client that rejects the certificate without a prompt closes the socket during security setup, which mstsc reports as 0x904. ${ERR_0X904}`,
    signals:
      "A client that finishes the TLS handshake (its Finished sent) and then closes, resets or sends an encrypted alert without any application data, whether or not the server selected the HYBRID the client offered (SSL selected is a normal choice: the client went on into TLS, so it accepted it). With the certificate hidden (TLS 1.3) the confidence is 40% (45% with an encrypted alert); with a visible certificate that shows no problem, 35%. Lowered because the reason (expired, untrusted, another name, revocation, policy) is not in the capture.",
  },
  cert_unavailable: {
    title: 'The server cannot produce a certificate (broken certificate store, TermService cannot create one)',
    short: 'the server could not produce a certificate',
    explanation:
      'The host accepted the connection but could not load or create its Remote Desktop certificate, typically because the machine key store is corrupt (a known Azure VM problem with the MachineKeys folder) or Remote Desktop Services cannot create a new self-signed certificate, so it ends the TLS handshake at the first message.',
    steps: ['renewCert', 'restartTermService', 'azureMachineKeys', 'restartBoth'],
    confirm:
      'On the host, the System event log shows TermService / Schannel errors about the certificate or its private key (e.g. "failed to create a new self-signed certificate"); certlm.msc > Remote Desktop > Certificates is empty or holds a certificate without its private key.',
    ifUnsure:
      'Check certlm.msc > Remote Desktop > Certificates and the System event log on the host; a capture on the server side rules out a device in between resetting the connection.',
    evidence:
      'RDP_NEG_FAILURE SSL_CERT_NOT_ON_SERVER; the server resets or closes right after the ClientHello; a server alert internal_error.',
    errorCode: `Yes when the server just closes after the ClientHello: the client's socket is closed during security setup (0x904). When the server answers with RDP_NEG_FAILURE SSL_CERT_NOT_ON_SERVER instead, mstsc shows its own negotiation message. ${ERR_0X904}`,
    signals:
      "RDP_NEG_FAILURE SSL_CERT_NOT_ON_SERVER (95%, unless it came only after the client had closed: a late answer is not the cause); a server alert internal_error instead of its certificate (80%); the server resetting or closing right after the ClientHello, with no ServerHello (60%, 40% when the ClientHello offers nothing a current host accepts). Not when the server never acknowledged the ClientHello (it was retransmitted and never covered by an ACK): a server that never read the ClientHello did not fail to answer it with a certificate (server_unresponsive).",
  },
  cert_name_mismatch: {
    title: 'The certificate does not carry the name the client connected to',
    short: 'refused: certificate name does not match',
    explanation:
      'The client connected by a name (or through a DNS name) that is not the certificate\'s subject or one of its alternative names, so the server identity check fails ("the name in the certificate does not match").',
    steps: ['connectByIp', 'flushDns', 'renewCert'],
    confirm:
      'Compare the name typed in the client with the certificate\'s "Issued to" name in certlm.msc > Remote Desktop > Certificates on the host; mstsc\'s certificate warning says "Certificate name mismatch" and shows both names.',
    ifUnsure:
      'Check which name the client was given (the .rdp file or the typed name) and what it resolves to (`nslookup <name>`); the cookie mstsc sends is a user name, not a host name, so the capture may not carry the typed name at all.',
    evidence:
      "The certificate's subject / SAN compared with the SNI, the name of a DNS lookup that resolved to the server, or a host name from the capture file; the client closes or alerts right after the handshake.",
    errorCode:
      'Usually not: mstsc warns about a name mismatch and lets the user continue; it ends the connection only when the user declines or a policy refuses, and then reports a cancelled connection rather than 0x904.',
  },
  port_blocked: {
    title: 'A firewall blocks the Remote Desktop port',
    short: 'blocked by a firewall (no SYN-ACK)',
    explanation:
      'Something between the client and Remote Desktop Services, such as Windows Defender Firewall, a network firewall, a cloud security group or antivirus software, drops or rejects the connection on port 3389 before the server can answer.',
    steps: ['firewallRules', 'allowMstsc', 'testPort', 'vpnReconnect'],
    confirm:
      '`Test-NetConnection <host> -Port 3389` from the client shows TcpTestSucceeded False; the firewall log on the host (pfirewall.log) or on the network device shows the drop; the same test from a machine on the server\'s own network succeeds.',
    ifUnsure:
      'Capture on the server side at the same time: if the SYN never arrives there, the drop is on the way; if it arrives and is not answered, the host firewall drops it.',
    evidence:
      "The SYN retransmitted with no answer while the capture runs on; ICMP administratively prohibited (or port unreachable) for the SYN; an RST whose TTL differs from the server's own packets (a device in between answering).",
    errorCode:
      'No: the TCP connection never opens, so mstsc reports that it cannot connect (socket connect failure 0x204 or a time-out), not the 0x904 of a connection lost during the handshake.',
  },
  port_not_listening: {
    title: 'Nothing listens on the port (service stopped or port changed)',
    short: 'refused: nothing listens on the port (RST)',
    explanation:
      'The server itself refuses the TCP connection: Remote Desktop Services is stopped or listens on another port, or Remote Desktop is turned off.',
    steps: ['portChanged', 'testPort', 'stuckSessions', 'restartBoth'],
    confirm:
      'On the host, `netstat -ano | findstr :3389` (or the changed port) shows whether anything listens, and `Get-Service TermService` whether the service runs; HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp\\PortNumber holds the port.',
    ifUnsure:
      'A capture on the server side tells whether the host itself sent the reset; compare the TTL of the reset with that of other packets the server sends.',
    evidence: 'An RST/ACK answering the SYN from the server itself (the same TTL as the server\'s other packets).',
    errorCode:
      'No: the connection is refused at once, which mstsc reports as a connect failure (0x204), not 0x904.',
  },
  server_unresponsive: {
    title: 'The server accepts TCP but does not answer the Remote Desktop request',
    short: 'accepted TCP but never answered the RDP request',
    explanation:
      'The host (or a proxy in front of it) completes the TCP handshake but Remote Desktop Services never answers the X.224 Connection Request: the service is hung or overloaded, or too many connections are pending at once (the MaxOutstandingConnections limit).',
    steps: ['maxOutstanding', 'stuckSessions', 'restartBoth', 'testPort'],
    confirm:
      'On the host, check that TermService is responsive (`qwinsta` answers), look for event 1006 in Microsoft-Windows-TerminalServices-RemoteConnectionManager ("the server received many incomplete connections") and at the load of the host.',
    ifUnsure:
      'Capture on the server side to see whether the Connection Request reaches Remote Desktop Services, and check whether another service or a load balancer owns the port.',
    evidence:
      'TCP completes, the X.224 Connection Request is sent, no Confirm comes (time-out, or the server closes); many half-done handshakes to the same server at once.',
    errorCode: `Often: when the host finally drops the half-open connection the client's socket closes during initialization (0x904); if it never does, mstsc reports a time-out instead. ${ERR_0X904}`,
    signals:
      "No X.224 Connection Confirm after the Connection Request: 80% when the capture runs on 10 s or more (45% when it stops sooner: a late Confirm may be missing); a client giving up after at least 5 s, 75% (a client closing after waiting 10 s at that point is a time-out by the server: clients in real captures give up there after about that long). A Confirm that comes only after the client closed is a late answer, not one: the attempt is still server_unresponsive (80% after a 10 s wait) and the late Confirm's contents (a failure code, a selected protocol) are not the cause. The server closing without a Confirm, 60%. Many half-done handshakes to the same server at once raise it (an overload or MaxOutstandingConnections story). A ClientHello the server never acknowledged (retransmitted, never covered by an ACK) followed by the server's close is 50%: the server never read it, but whether it never arrived (a device in between) or the server stopped taking data in is not visible from the client's side.",
  },
  security_layer_mismatch: {
    title: 'Client and server do not agree on the security layer',
    short: 'refused: security layer mismatch',
    explanation:
      'The host\'s "Require use of specific security layer for remote (RDP) connections" policy (RDP, Negotiate or SSL) does not allow what the client offered, e.g. the client offered only Standard RDP Security to a host that requires TLS, or TLS to a host set to RDP only.',
    steps: ['securityLayerPolicy', 'xrdpSecurityLayer', 'updateClient'],
    confirm:
      'On the host, read the policy in gpedit.msc > ... > Remote Desktop Session Host > Security, or HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp\\SecurityLayer (0 RDP, 1 Negotiate, 2 SSL); on the client, the .rdp file\'s "authentication level" and the client version.',
    ifUnsure: 'Read the security layer setting on the host and the client settings; retry with the client offering TLS.',
    evidence:
      'RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER / SSL_NOT_ALLOWED_BY_SERVER / INCONSISTENT_FLAGS; or a client asking only for PROTOCOL_RDP against a server that closes the connection.',
    errorCode:
      'No: mstsc reports an RDP_NEG_FAILURE with its own message about the security layer, not 0x904: SSL_REQUIRED_BY_SERVER means the server requires TLS (the client offered only Standard RDP Security), SSL_NOT_ALLOWED_BY_SERVER means the server allows only Standard RDP Security (the client offered TLS or NLA). mstsc often retries on its own with other protocols, so look at the first attempt. A server that refuses without a failure code (a reset, or a Disconnect Provider Ultimatum for the MCS Connect Initial) closes the connection under the client during initialization, which is the 0x904 symptom.',
    signals:
      "RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER / SSL_NOT_ALLOWED_BY_SERVER / INCONSISTENT_FLAGS (95%). Without a failure code: a client offering only Standard RDP Security (no RDP_NEG_REQ, or requestedProtocols 0) that the server accepts with a Connection Confirm without negotiation data (or PROTOCOL_RDP selected) and then refuses at the MCS Connect Initial with a Disconnect Provider Ultimatum (75%) or a reset / close (65%) instead of a Connect Response, as xrdp with security_layer=tls does; a server selecting PROTOCOL_RDP for a client that offered only TLS-based protocols, after which the client leaves (70%); the server dropping a Standard-RDP-only request before any Confirm (60%). Lowered because a server can end the connection at these points for other reasons; a Confirm that came only after the client had closed is not used.",
  },
  nla_mismatch: {
    title: 'One side requires Network Level Authentication (NLA) and the other does not offer it',
    short: 'refused: NLA required by one side only',
    explanation:
      'The host requires NLA (CredSSP) and the client did not offer it, or the client requires NLA and the host did not select it.',
    steps: ['nlaPolicy', 'xrdpSecurityLayer', 'updateClient'],
    confirm:
      'On the host, the policy "Require user authentication for remote connections by using Network Level Authentication" (or System Properties > Remote > "Allow connections only from computers running Remote Desktop with Network Level Authentication"); on the client, whether CredSSP is enabled (enablecredsspsupport in the .rdp file).',
    ifUnsure: 'Compare the NLA setting on the host with the client\'s settings and version.',
    evidence:
      'RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER / SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER; HYBRID requested but not selected and the client then closes.',
    errorCode:
      'No: mstsc reports a negotiation failure with its own message (e.g. "The remote computer requires Network Level Authentication, which your computer does not support"), not 0x904.',
    signals:
      "RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER / SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER (95%); a server selecting HYBRID the client had not offered (60%); HYBRID offered, not selected, and the client leaving at the Connection Confirm before any ClientHello (65%; 30% when it only goes quiet). Not when the client goes on into TLS: mstsc and FreeRDP offer PROTOCOL_SSL next to HYBRID, so SSL selected is a normal choice, and a client that leaves after the TLS handshake has judged the certificate (cert_* causes). Not when the server selected PROTOCOL_RDP (security_layer_mismatch), nor on a Confirm that came only after the client had closed.",
  },
  nla_failed: {
    title: 'Network Level Authentication (CredSSP) failed',
    short: 'refused during NLA (CredSSP) authentication',
    explanation:
      'The TLS channel came up but the CredSSP authentication inside it failed: wrong or expired credentials, an account not allowed to log on remotely, a CredSSP version mismatch (the "encryption oracle" updates), or a Kerberos / NTLM problem.',
    steps: ['nlaPolicy', 'updateClient', 'restartBoth'],
    confirm:
      'On the host, the Security event log shows event 4625 (failed logon) with its status; on the client, the Microsoft-Windows-TerminalServices-RDPClient/Operational log and mstsc\'s message ("An authentication error has occurred", "CredSSP encryption oracle remediation"). Trying `mstsc.exe /restrictedAdmin` tells whether the problem is in NLA/CredSSP.',
    ifUnsure:
      'Capture with a TLS key log, or on the server side with its logs, to read the TSRequest errorCode; check the host\'s Security log for event 4625 at the time of the attempt.',
    evidence:
      'After TLS, a short exchange of TSRequest records and the server closing; with keys or in the clear, the TSRequest errorCode (an NTSTATUS) or an Early User Authorization Result of ACCESS_DENIED.',
    errorCode:
      'Usually not: mstsc shows an authentication error message (with the CredSSP or logon error) rather than 0x904; a server that simply drops the connection during CredSSP can surface as 0x904.',
    signals:
      "A TSRequest errorCode read with a key log (95%) or an Early User Authorization Result ACCESS_DENIED (90%). Without keys, the shape of the encrypted CredSSP exchange: the server ending it (60%), or the client stopping after two records of its own where its credentials would follow: 55-60%, 70% when the server's last record is errorCode-sized (a third of its CHALLENGE or less), down to 25% when it is proof-sized (authentication went through), lowered again by a doubtful certificate or a completed attempt soon after. Kerberos around it is clear text: a KRB-ERROR (over UDP port 88, or over TCP with its record joined across segments) the client's KDC sent it from 30 s before the connection to its end that names why a logon fails (KDC_ERR_PREAUTH_FAILED, KDC_ERR_C_PRINCIPAL_UNKNOWN, KDC_ERR_CLIENT_REVOKED, KDC_ERR_KEY_EXPIRED, KDC_ERR_POLICY, KRB_AP_ERR_SKEW) raises the finding to 90% and leads with the step for that code; the routine KDC_ERR_PREAUTH_REQUIRED is no evidence. An IP address as the TLS SNI is named: Kerberos needs a host name, so CredSSP fell back to NTLM. A connection that is mstsc's NLA pre-authentication (the client closes after the server's proof-sized pubKeyAuth and reconnects within 10 s to the same certificate, and that connection completes) gets no finding at all.",
  },
  tls_mismatch: {
    title: 'Client and server share no TLS version or cipher suite',
    short: 'refused: no common TLS version or cipher',
    explanation:
      'The TLS handshake fails because the two sides have no protocol version or cipher suite in common (old clients with TLS 1.0 only against hardened hosts, or the reverse).',
    steps: ['updateClient', 'securityLayerPolicy', 'restartBoth'],
    confirm:
      'Compare the TLS versions and cipher suites enabled on both machines (HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL, or `Get-TlsCipherSuite`); the System event log shows Schannel event 36874 / 36888 for the failed handshake.',
    ifUnsure: 'Read the Schannel events on the host at the time of the attempt, and compare the ClientHello with the suites the host enables.',
    evidence:
      'An alert handshake_failure / protocol_version / insufficient_security; no common version or cipher suite between the ClientHello and what the server accepts.',
    errorCode: `Often: a failed TLS handshake closes the socket during security setup, which mstsc reports as 0x904 (or, for some failures, an internal security error). ${ERR_0X904}`,
  },
  network_unstable: {
    title: 'The network path is unstable (packet loss, latency, a slow VPN)',
    short: 'lost on an unstable network (retransmissions)',
    explanation:
      'Packets are lost or delayed on the way (a dodgy Wi-Fi or VPN, too little bandwidth), so the handshake takes too long or the connection is dropped.',
    steps: ['vpnReconnect', 'restartBoth', 'testPort'],
    confirm:
      'Run a continuous ping (`ping -t <host>`) or `Test-NetConnection <host> -Port 3389` over the same path and look at loss and latency; try from a wired connection or without the VPN.',
    ifUnsure: 'Capture on both ends at once: segments sent by one side and never received by the other show where they are lost.',
    evidence:
      'Retransmissions, duplicate ACKs, RTT spikes, long gaps followed by retransmissions, handshake phases that take seconds.',
    errorCode: `Yes: this is the case field experience reports most often: the connection is lost while the handshake is under way, which mstsc reports as 0x904 / 0x7. ${ERR_0X904}`,
    signals:
      "Counted by the flow table: retransmissions (keep-alives not counted), duplicate ACKs, RTT spikes, a SYN answered only after retransmissions, a stall ending in a retransmission, two handshake phases seconds apart, keep-alives one side sent that the other never answered before the connection ended (a session lost in active this way is failed in active). Two signals make a finding (45% + 12% a signal, at most 85%); one strong loss signal alone (10 retransmissions at 10% of the packets, or unanswered keep-alives followed by the end) 60%. Loss that only hits full-size segments lowers it to at most 35%: an MTU black hole is the better story.",
  },
  mtu_blackhole: {
    title: 'Full-size packets are lost on the path (MTU black hole)',
    short: 'lost: full-size packets dropped (MTU black hole)',
    explanation:
      'A link on the path (often a VPN or tunnel) carries smaller packets than the hosts send, and the ICMP "fragmentation needed" message that would tell them is dropped, so every full-size segment, typically the server\'s certificate, is lost while small ones pass.',
    steps: ['pathMtu', 'vpnReconnect'],
    confirm:
      'From the client, `ping -f -l 1472 <host>` fails while `ping -f -l 1200 <host>` works; lowering the MTU of the VPN / client interface (`netsh interface ipv4 set subinterface "<name>" mtu=1400`) makes the connection work.',
    ifUnsure: 'Capture on the server side: full-size segments leave the server but never reach the client; look for ICMP "fragmentation needed" dropped by a firewall.',
    evidence:
      'Full-size segments (often the certificate flight) retransmitted and never acknowledged while small ones pass; no ICMP fragmentation-needed seen.',
    errorCode: `Yes: the client waits for the server's handshake flight that never arrives whole and the connection is dropped during security setup, which mstsc reports as 0x904. ${ERR_0X904}`,
    signals:
      "Seen from the sender: a full-size segment (90% of the peer's MSS, at least 1200 bytes) retransmitted and never acknowledged while no segment that large was acknowledged in that direction: 80% in the TLS certificate flight, 70% elsewhere, 15 points less when no smaller segment was acknowledged either. Seen from the receiver (a capture on the client): a sequence gap of at least one full-size segment that nothing fills, only smaller segments of that side arriving, and the receiver's duplicate ACKs / SACKs: 75% in the certificate flight, 65% elsewhere, lower than the sender's view since a few losses in a row look the same. An ICMP fragmentation-needed in the capture lowers either to 50%.",
  },
  dns_failure: {
    title: 'The host name does not resolve, or resolves to another address',
    short: 'name resolution failed or pointed elsewhere',
    explanation:
      'The client\'s name lookup for the server fails (NXDOMAIN, SERVFAIL, no answer) or returns a different address than the one the client connected to (a stale cache or record), a problem reported with hostname resolution on recent Windows 11 builds.',
    steps: ['connectByIp', 'flushDns', 'checkDnsRecord'],
    confirm: 'On the client, `nslookup <name>` and `Resolve-DnsName <name>` show what the name resolves to; compare with the server\'s real address (`ipconfig` on the host).',
    ifUnsure: 'Capture from the client before the connection starts, so that the name lookup is in the capture; check the hosts file and the DNS cache (`ipconfig /displaydns`).',
    evidence:
      'DNS queries for the target name failing, timing out, or resolving elsewhere than where the client connected.',
    errorCode:
      'Partly: a lookup that fails outright is reported by mstsc as a DNS / host-not-found error (0x104, 0x208, 0x508); hostname resolution bugs reported on recent Windows 11 builds surface as 0x904 when the client then reaches the wrong place or a stale address.',
  },
  server_denied: {
    title: 'The server ended the connection after authentication (denied, session limits, licensing)',
    short: 'ended by the server after authentication',
    explanation:
      'The handshake got past authentication but the server ended the connection: the account may not log on remotely, the session limit is reached, a session is stuck, or licensing failed.',
    steps: ['stuckSessions', 'restartBoth', 'nlaPolicy', 'rdLicensing'],
    confirm:
      'On the host, the Microsoft-Windows-TerminalServices-LocalSessionManager/Operational and RemoteConnectionManager logs, the "Allow log on through Remote Desktop Services" right and the Remote Desktop Users group, `qwinsta` for the number of sessions, and the licensing configuration.',
    ifUnsure:
      'With Standard RDP Security or a TLS key log the Set Error Info PDU names the reason; otherwise read the host\'s TerminalServices logs at the time of the attempt.',
    evidence:
      'The server closes after CredSSP, MCS or licensing; a Set Error Info PDU with its ERRINFO code; a licensing error message; a Disconnect Provider Ultimatum.',
    errorCode:
      'Extended code 0x7 is exDiscReasonServerDeniedConnection, the same value as ERRINFO_SERVER_DENIED_CONNECTION (MS-RDPBCGR 2.2.5.1.1): this is the case it names. When the server sends a Set Error Info PDU, mstsc shows that reason\'s own message.',
    signals:
      "A Set Error Info PDU naming a denial (92%) or another reason (75%), a licensing error other than STATUS_VALID_CLIENT (85%), both readable under Standard RDP Security or with keys; a server Disconnect Provider Ultimatum (65%); without keys, the server closing after the connection reached MCS / licensing (55% after NLA, 45% otherwise, lower still because the phase is inferred from record sizes). Not a server that refuses the MCS Connect Initial of a client offering only Standard RDP Security (security_layer_mismatch). A session is active, and its end normal, once the server's finalization answers came (Synchronize, Control Cooperate, Control Granted, Font Map: the fourth small server record after Confirm Active); a close after that is no denial, except when the client asked for Restricted Admin mode or Remote Credential Guard (RDP_NEG_REQ flags) and the server ends the session within 10 s of its first graphics (the first large server record once active), before the client leaves: the logon mode is then the likely reason (60%: without keys the Set Error Info PDU that would name the reason is encrypted).",
  },
  client_abort: {
    title: 'The client dropped the attempt while the server was waiting',
    short: 'dropped by the client',
    explanation:
      'The client ended the connection without an alert at a point where the server was waiting for it: security software on the client (antivirus, a firewall), an outdated client, or the user cancelling.',
    steps: ['allowMstsc', 'updateClient', 'restartBoth'],
    confirm:
      'On the client, check the antivirus / firewall logs for mstsc.exe at the time of the attempt and the Microsoft-Windows-TerminalServices-RDPClient/Operational event log; try another, updated client.',
    ifUnsure: 'Read the client\'s RDPClient/Operational event log and the security software\'s logs; a capture on the server side shows the same close from the other end.',
    evidence: 'The client resets or closes without an alert at a point where the server was waiting for it.',
    errorCode: `Sometimes: security software that resets the client's socket surfaces as 0x904; a user cancelling shows no error. ${ERR_0X904}`,
  },
  standard_rdp_security: {
    severity: 'warning',
    title: 'The session runs over Standard RDP Security (RC4, the server not authenticated)',
    short: 'connected over weak Standard RDP Security',
    explanation:
      'The connection worked, but without TLS: Standard RDP Security (MS-RDPBCGR 5.3) encrypts with RC4 and proves nothing about the server, so anyone in the path can pose as it and read the password typed at its logon screen. Clients fall back to it on their own when TLS or NLA fails and the host allows the RDP security layer, which is also what the "set the Security Layer to RDP" workaround leaves behind.',
    steps: ['tlsSecurityLayer', 'nlaPolicy', 'updateClient'],
    confirm:
      'On the host, read "Require use of specific security layer for remote (RDP) connections" (gpedit.msc) or HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp\\SecurityLayer (0 means RDP); mstsc\'s connection bar shows no padlock / "the identity of the remote computer" is not verified.',
    ifUnsure: "Read the host's SecurityLayer setting and the client's .rdp file (authentication level, enablecredsspsupport).",
    evidence:
      'The X.224 Connection Confirm selects PROTOCOL_RDP (or carries no RDP_NEG_RSP to a client that sent no RDP_NEG_REQ); the MCS Connect Response carries a server random and a proprietary certificate, the client sends a Security Exchange PDU, and the session reaches the active phase.',
    errorCode: "No: nothing failed, so mstsc shows no error code (no 0x904 / 0x7); the weakness is silent unless the user looks at the connection's security information.",
    signals:
      "A warning, never a cause: a completed connection whose security is Standard RDP Security (PROTOCOL_RDP selected, or no RDP_NEG_REQ), with the encryption method of the MCS Connect Response (RC4 at 40, 56 or 128 bits, FIPS 3DES, or none). Certain (100%) when the Connection Confirm and the Connect Response are in the capture; it does not change the outcome, the counts or the exit code.",
  },
  no_user_logon: {
    severity: 'warning',
    title: 'The session ran, but no user logged on',
    short: 'connected, but no user logged on',
    explanation:
      'The connection worked (the server sent its desktop), but the server never told the client that a user had logged on (the Save Session Info logon notification, MS-RDPBCGR 2.2.10.1): the session stayed at the Windows logon screen, or a logon started there did not finish (a wrong password typed at the logon screen, a password that must be changed, a logon message or policy the user did not get past) before the session ended. Nothing failed in the protocol, but the user did not get a desktop.',
    steps: ['logonEvents', 'requireNla'],
    confirm:
      "On the host, the Security event log (events 4624 / 4625 with Logon Type 10) and Microsoft-Windows-TerminalServices-LocalSessionManager/Operational (event 21, session logon succeeded) at the session's time show whether and why a logon did not happen.",
    ifUnsure: 'Capture the whole session with its TLS keys (a key log or Decryption Secrets Blocks, and a snap length that keeps whole packets), and read the host\'s Security log for events 4624 / 4625 of Logon Type 10.',
    evidence:
      'Only with the TLS keys: the decrypted session reaches the active phase (Demand Active, Confirm Active, the finalization PDUs, screen updates) and ends, or the capture ends, without a Save Session Info PDU of infoType INFOTYPE_LOGON, INFOTYPE_LOGON_LONG or INFOTYPE_LOGON_PLAINNOTIFY from the server (MS-RDPBCGR 2.2.10.1.1).',
    errorCode: 'No: nothing failed in the protocol, so mstsc shows no error code (no 0x904 / 0x7); the user sees the Windows logon screen, or a logon message, in the remote session.',
    signals:
      "A warning, never a cause: a completed connection whose TLS was decrypted (every record authenticated, the server's data read to its end: no `tls.decryption.decodeStopped`, no bytes missing or past the reassembly limit) and whose active phase was decoded, with no Save Session Info logon notification from the server. 90% when the session's end is in the capture (a close, a Set Error Info or a Disconnect Provider Ultimatum), since a notification inside a bulk-compressed PDU would not be read; 60% when the capture ended while the session still ran (the logon may have come after). Not told without keys (the notification is inside TLS), on a session read only in part, or when the server's ERRINFO_LOGOFF_BY_USER says a user was logged on; it does not change the outcome, the counts or the exit code.",
  },
  gateway_auth_refused: {
    title: 'The RD Gateway refused the user (authentication or the connection authorization policy)',
    short: 'refused by the RD Gateway: the user was not accepted',
    explanation:
      'The client reached the RD Gateway over HTTPS, but the gateway answered its last authenticated request with 401: it did not accept the user. The credentials may be wrong, the account restricted (locked, disabled, expired, outside its logon hours: the reason the gateway gives, such as "User Account Restricted"), or no RD CAP (connection authorization policy) on the gateway admits the user. The target host was never contacted.',
    steps: ['gatewayCap', 'gatewayAccount', 'gatewayService'],
    confirm:
      "On the gateway, the Microsoft-Windows-TerminalServices-Gateway/Operational event log shows the user's failed connection authorization at the time of the attempt, and the Security log an account logon failure naming the reason.",
    ifUnsure: 'Without a key log of the client\'s TLS sessions (--keylog) the gateway\'s HTTP answers are encrypted; read the gateway\'s TerminalServices-Gateway/Operational log at the time of the attempt.',
    evidence:
      "With the key log: the gateway's last answer to an RDG_OUT_DATA / RDG_IN_DATA request (or its WebSocket upgrade) that carried credentials is HTTP 401, with its reason and WWW-Authenticate challenges; earlier 401s of the NTLM / Negotiate exchange are steps, not refusals.",
    errorCode: ERR_GATEWAY,
    signals:
      "Only with the gateway's TLS decrypted (a key log): the last HTTP answer of the connection is 401 (95% when the request carried an Authorization header, 80% when it did not: the client may have given up before sending credentials).",
  },
  gateway_kdc_proxy_unavailable: {
    severity: 'warning',
    title: "The gateway's KDC proxy failed, so the client fell back to NTLM",
    short: "the gateway's KDC proxy failed (NTLM fallback)",
    explanation:
      "The client had no line of sight to a domain controller and asked the gateway's KDC proxy (POST /KdcProxy, MS-KKDCP) for Kerberos tickets; the proxy answered with a server error (503: the Kerberos Proxy Service is not running or not reachable), so Kerberos failed and the client authenticated to the gateway with NTLM instead. Where NTLM is allowed the connection goes on; where policy requires Kerberos (or the account is in Protected Users) it fails at the gateway.",
    steps: ['gatewayKdcProxy', 'gatewayKdcProxyClient'],
    confirm:
      'On the gateway, `Get-Service kpssvc` shows whether the Kerberos Proxy Service runs, and `netsh http show urlacl` whether https://+:443/KdcProxy is reserved; the client\'s Microsoft-Windows-Kerberos/Operational log shows the failed KDC proxy request.',
    ifUnsure: 'Without a key log the KDC proxy request is encrypted inside the gateway\'s HTTPS; capture with --keylog, or read the client\'s Kerberos log.',
    evidence:
      "With the key log: a POST to the gateway's /KdcProxy answered with 5xx, then the client's requests to the gateway authenticating with NTLM.",
    errorCode: "No: the fallback itself shows no error; mstsc reports only what happens after it (a gateway refusal has the gateway's own message).",
    signals:
      "Only with the gateway's TLS decrypted (a key log): a /KdcProxy request answered with 5xx, with requests authenticating with NTLM or Negotiate after it on the client's connections to the same gateway (90%), or without them (75%: the fallback is then inferred). A warning, never a cause: it does not change the outcome or the exit code; a refusal at the gateway after it is its own finding.",
  },
  gateway_rap_refused: {
    title: "The RD Gateway's resource authorization policy (RD RAP) refused the target",
    short: 'refused by the RD Gateway: the target is not allowed (RD RAP)',
    explanation:
      "The gateway accepted the user and opened the tunnel, but refused the channel to the target host: no RD RAP (resource authorization policy) on the gateway lets this user reach this computer on this port. The name must match the policy's resource exactly as the client asks for it (FQDN, NetBIOS name and IP address are different names).",
    steps: ['gatewayRap', 'gatewayService'],
    confirm:
      "In RD Gateway Manager, Policies > Resource Authorization Policies lists which user groups may reach which computer groups and ports; the gateway's TerminalServices-Gateway/Operational log records the refused resource authorization with the user and target.",
    ifUnsure: "Without a key log the channel request is encrypted; read the gateway's TerminalServices-Gateway/Operational log at the time of the attempt.",
    evidence:
      'With the key log: CHANNEL_CREATE naming the target and port, answered by a CHANNEL_RESPONSE with E_PROXY_RAP_ACCESSDENIED (MS-TSGU 2.2.10.4, 2.2.6).',
    errorCode: ERR_GATEWAY,
    signals: 'Only with the gateway\'s TLS decrypted (a key log): CHANNEL_RESPONSE E_PROXY_RAP_ACCESSDENIED, or E_PROXY_REAUTH_RAP_FAILED on a reauthentication (95%).',
  },
  gateway_target_unreachable: {
    title: 'The RD Gateway could not reach the target host',
    short: 'the RD Gateway could not reach the target',
    explanation:
      "The gateway accepted the user and the policies allowed the target, but the gateway's own connection to the target failed: the name did not resolve on the gateway, the target is off, Remote Desktop is disabled on it, or a firewall between the gateway and the target blocks the port.",
    steps: ['gatewayReachTarget', 'gatewayService'],
    confirm: "On the gateway: `Test-NetConnection <target> -Port 3389` fails; its TerminalServices-Gateway/Operational log records the failed connection to the resource.",
    ifUnsure: "Capture on the gateway's inside interface: its SYNs to the target and their answers tell a firewall from a stopped service.",
    evidence:
      'With the key log: CHANNEL_CREATE naming the target and port, answered by a CHANNEL_RESPONSE with E_PROXY_TS_CONNECTFAILED or another connect failure (MS-TSGU 2.2.6).',
    errorCode: ERR_GATEWAY,
    signals: "Only with the gateway's TLS decrypted (a key log): CHANNEL_RESPONSE E_PROXY_TS_CONNECTFAILED (90%).",
  },
  gateway_refused: {
    title: 'The RD Gateway refused the connection (HTTP 403 or a server error, or a failed tunnel step)',
    short: 'refused by the RD Gateway',
    explanation:
      "The gateway answered the client's request with 403 (forbidden) or a 5xx server error, or answered a tunnel step (handshake, tunnel create, tunnel authorization, channel) with a failure code other than the policy and reachability ones: the gateway service, its web site or its configuration is at fault, not the target host.",
    steps: ['gatewayService', 'gatewayCap'],
    confirm: "On the gateway, the TerminalServices-Gateway/Operational log and the IIS log (for the status code and its sub-status) at the time of the attempt.",
    ifUnsure: "Without a key log the gateway's answers are encrypted; read the gateway's logs at the time of the attempt.",
    evidence: "With the key log: an HTTP 403 / 5xx answer to an RDG_OUT_DATA / RDG_IN_DATA request, or an MS-TSGU response packet whose result code is a failure (MS-TSGU 2.2.6).",
    errorCode: ERR_GATEWAY,
    signals: "Only with the gateway's TLS decrypted (a key log): HTTP 403 or 5xx to a gateway request (85%), or a failed MS-TSGU response (85%).",
  },
  gateway_cert_expired: {
    title: "The RD Gateway's certificate has expired",
    short: "refused: the RD Gateway's certificate expired",
    explanation:
      "The certificate the RD Gateway presents for its HTTPS (the one chosen in RD Gateway Manager > Properties > SSL Certificate) is past its expiry date, so the client refuses the gateway before it sends any request: no user is authenticated and no target is contacted.",
    steps: ['gatewayCertReplace', 'checkClocks'],
    confirm: "Open https://<gateway>/ in a browser on the client and read the certificate's \"Valid to\" date; on the gateway, RD Gateway Manager > Properties > SSL Certificate shows the certificate and its expiry.",
    ifUnsure: "Check the client's clock: a client clock far ahead makes a valid certificate look expired.",
    evidence: "The gateway's TLS 1.2 Certificate message (in the clear) with a notAfter before the connection, then the client's alert (certificate_expired, bad_certificate, certificate_unknown) or its close right after the handshake, with no request sent.",
    errorCode: ERR_GATEWAY_CERT,
    signals: `${GATEWAY_CERT_SIGNALS}the alert certificate_expired (97%), another certificate alert (93%), the client closing (88%).`,
  },
  gateway_cert_not_yet_valid: {
    title: "The RD Gateway's certificate is not valid yet (or a clock is wrong)",
    short: "refused: the RD Gateway's certificate is not valid yet",
    explanation:
      "The RD Gateway's certificate has a \"Valid from\" date after the connection: most often the client's clock is behind (or the gateway's was ahead when the certificate was made), rarely a certificate issued with a wrong date. The client refuses the gateway before it sends any request.",
    steps: ['checkClocks', 'gatewayCertReplace'],
    confirm: "Compare the client's date and time with the certificate's \"Valid from\" date (https://<gateway>/ in a browser, or RD Gateway Manager > Properties > SSL Certificate on the gateway).",
    ifUnsure: "Check the clocks of the client and the gateway (`w32tm /query /status`) before touching the certificate.",
    evidence: "The gateway's TLS 1.2 Certificate message (in the clear) with a notBefore after the connection, then the client's certificate alert or its close right after the handshake, with no request sent.",
    errorCode: ERR_GATEWAY_CERT,
    signals: `${GATEWAY_CERT_SIGNALS}a certificate alert (93%), the client closing (88%).`,
  },
  gateway_cert_name_mismatch: {
    title: "The RD Gateway's certificate does not name the gateway as the client knows it",
    short: "refused: the RD Gateway's certificate names another host",
    explanation:
      "The client asked for the gateway by a name (its TLS SNI) that is neither the subject nor a subject alternative name of the gateway's certificate, so it cannot verify it is talking to the gateway and stops before sending any request. The gateway is known under another name (an alias, an internal name) than the one its certificate was made for.",
    steps: ['gatewayCertClientName', 'gatewayCertReplace'],
    confirm: "Open https://<the name the client uses>/ in a browser on the client: it reports the name mismatch and shows the names the certificate carries.",
    ifUnsure: "Compare the client's RD Gateway server name (mstsc, or gatewayhostname:s: in the .rdp file) with the names of the certificate chosen in RD Gateway Manager.",
    evidence: "The client's SNI in the ClientHello, the gateway's TLS 1.2 Certificate message (in the clear) whose names do not match it, then the client's alert or close right after the handshake, with no request sent.",
    errorCode: ERR_GATEWAY_CERT,
    signals: `${GATEWAY_CERT_SIGNALS}a certificate alert (85%), the client closing (75%); lower when the certificate is also out of date (that alone explains the refusal). An IP address as the SNI is no name to compare.`,
  },
  gateway_cert_untrusted: {
    title: "The client does not trust the RD Gateway's certificate (self-signed or an unknown issuer)",
    short: "refused: the RD Gateway's certificate is not trusted",
    explanation:
      "The RD Gateway's certificate is in date and names the gateway, but it is self-signed, or issued by a CA whose root the client does not trust (or whose intermediate certificate the gateway does not send), so the client cannot verify the gateway and stops before sending any request.",
    steps: ['gatewayCertClientTrust', 'gatewayCertReplace'],
    confirm: "Open https://<gateway>/ in a browser on the client: an untrusted certificate is reported with its issuer; certlm.msc on the client shows whether that root is in Trusted Root Certification Authorities.",
    ifUnsure: "Compare the issuer of the gateway's certificate with the client's trusted roots; the capture shows only the chain the gateway sent.",
    evidence: "The gateway's TLS 1.2 Certificate message (in the clear): a self-signed leaf, or an issuer not in the chain sent; then the client's alert unknown_ca (or another certificate alert) or its close right after the handshake, with no request sent.",
    errorCode: ERR_GATEWAY_CERT,
    signals: `${GATEWAY_CERT_SIGNALS}the alert unknown_ca (93%), another certificate alert on a self-signed or unknown-issuer certificate (75%), the client closing (60% self-signed, 55% unknown issuer: a client that has the issuer's root, or the intermediate, trusts it and leaves for another reason).`,
  },
};

function build(id: CauseId): Cause {
  const d = DEFS[id];
  return {
    id,
    title: d.title,
    explanation: d.explanation,
    remediation: d.steps.map(stepText),
    confirm: d.confirm,
    ifUnsure: d.ifUnsure,
    evidence: d.evidence,
    errorCode: d.errorCode,
    ...(d.signals !== undefined ? { signals: d.signals } : {}),
    severity: d.severity ?? 'failure',
  };
}

export const CATALOGUE: Readonly<Record<CauseId, Cause>> = Object.fromEntries(CAUSE_IDS.map((id) => [id, build(id)])) as Record<
  CauseId,
  Cause
>;

/** The causes in catalogue order. */
export const CAUSES: readonly Cause[] = CAUSE_IDS.map((id) => CATALOGUE[id]);

export function causeSteps(id: CauseId): readonly StepId[] {
  return DEFS[id].steps;
}

/** Short phrase for counts: "12 blocked by a firewall (no SYN-ACK)". */
export function causeShort(id: CauseId): string {
  return DEFS[id].short;
}

/** Position in the catalogue (for a stable order between equal confidences). */
export function causeRank(id: CauseId): number {
  return CAUSE_IDS.indexOf(id);
}
