// MS-RDPBCGR 2.2.5.1.1 Set Error Info PDU errorInfo codes: the constant name, one plain sentence,
// and how the diagnosis should read it.
import { codeName } from './result.js';

/** How a code ends a connection: a normal end, a refusal, a timer, a protocol fault, or something else. */
export type ErrinfoClass = 'normal_end' | 'denied' | 'timeout' | 'protocol_error' | 'other';

interface Entry {
  name: string;
  description: string;
  cls: ErrinfoClass;
}

const T: Record<number, Entry> = {};
function def(code: number, name: string, cls: ErrinfoClass, description: string): void {
  T[code] = { name, description, cls };
}

// Protocol-independent codes
def(0x00000000, 'ERRINFO_NONE', 'normal_end', 'No error; the server gave no reason.');
def(0x00000001, 'ERRINFO_RPC_INITIATED_DISCONNECT', 'other', 'An administrative tool on the server, in another session, disconnected the session.');
def(0x00000002, 'ERRINFO_RPC_INITIATED_LOGOFF', 'other', 'An administrative tool on the server, in another session, forced a logoff.');
def(0x00000003, 'ERRINFO_IDLE_TIMEOUT', 'timeout', 'The idle session time limit on the server elapsed.');
def(0x00000004, 'ERRINFO_LOGON_TIMEOUT', 'timeout', 'The active session time limit on the server elapsed.');
def(0x00000005, 'ERRINFO_DISCONNECTED_BY_OTHERCONNECTION', 'other', 'Another user connected to the session and took it over.');
def(0x00000006, 'ERRINFO_OUT_OF_MEMORY', 'other', 'The server ran out of memory.');
def(0x00000007, 'ERRINFO_SERVER_DENIED_CONNECTION', 'denied', 'The server denied the connection.');
def(0x00000009, 'ERRINFO_SERVER_INSUFFICIENT_PRIVILEGES', 'denied', 'The user may not connect: the account lacks the remote logon privilege.');
def(0x0000000a, 'ERRINFO_SERVER_FRESH_CREDENTIALS_REQUIRED', 'denied', 'The server does not accept saved credentials; the user must type them in.');
def(0x0000000b, 'ERRINFO_RPC_INITIATED_DISCONNECT_BYUSER', 'normal_end', "An administrative tool running in the user's own session disconnected it.");
def(0x0000000c, 'ERRINFO_LOGOFF_BY_USER', 'normal_end', 'The user logged off.');
def(0x0000000f, 'ERRINFO_CLOSE_STACK_ON_DRIVER_NOT_READY', 'other', "The server's display driver was not ready in time.");
def(0x00000010, 'ERRINFO_SERVER_DWM_CRASH', 'other', 'The Desktop Window Manager on the server crashed.');
def(0x00000011, 'ERRINFO_CLOSE_STACK_ON_DRIVER_FAILURE', 'other', "The server's display driver failed to start.");
def(0x00000012, 'ERRINFO_CLOSE_STACK_ON_DRIVER_IFACE_FAILURE', 'other', "The server's display driver started but its interface failed.");
def(0x00000017, 'ERRINFO_SERVER_WINLOGON_CRASH', 'other', 'The Winlogon process on the server crashed.');
def(0x00000018, 'ERRINFO_SERVER_CSRSS_CRASH', 'other', 'The CSRSS process on the server crashed.');
def(0x00000019, 'ERRINFO_SERVER_SHUTDOWN', 'other', 'The server is shutting down.');
def(0x0000001a, 'ERRINFO_SERVER_REBOOT', 'other', 'The server is restarting.');
// Protocol-independent licensing codes
def(0x00000100, 'ERRINFO_LICENSE_INTERNAL', 'denied', "An internal error occurred in the server's licensing component.");
def(0x00000101, 'ERRINFO_LICENSE_NO_LICENSE_SERVER', 'denied', 'No Remote Desktop License Server could be found to issue a license.');
def(0x00000102, 'ERRINFO_LICENSE_NO_LICENSE', 'denied', 'No Client Access Licenses are available for this server.');
def(0x00000103, 'ERRINFO_LICENSE_BAD_CLIENT_MSG', 'denied', 'The server received an invalid licensing message from the client.');
def(0x00000104, 'ERRINFO_LICENSE_HWID_DOESNT_MATCH_LICENSE', 'denied', "The client's stored license was modified (it does not match this hardware).");
def(0x00000105, 'ERRINFO_LICENSE_BAD_CLIENT_LICENSE', 'denied', "The client's stored license is in an invalid format.");
def(0x00000106, 'ERRINFO_LICENSE_CANT_FINISH_PROTOCOL', 'denied', 'Network problems cut the licensing exchange short.');
def(0x00000107, 'ERRINFO_LICENSE_CLIENT_ENDED_PROTOCOL', 'denied', 'The client ended the licensing exchange early.');
def(0x00000108, 'ERRINFO_LICENSE_BAD_CLIENT_ENCRYPTION', 'denied', 'A licensing message was encrypted incorrectly.');
def(0x00000109, 'ERRINFO_LICENSE_CANT_UPGRADE_LICENSE', 'denied', "The client's stored license could not be upgraded or renewed.");
def(0x0000010a, 'ERRINFO_LICENSE_NO_REMOTE_CONNECTIONS', 'denied', 'The server is not licensed to accept remote connections.');
// Connection broker codes
def(0x00000400, 'ERRINFO_CB_DESTINATION_NOT_FOUND', 'other', 'The connection broker could not find the target computer.');
def(0x00000402, 'ERRINFO_CB_LOADING_DESTINATION', 'other', 'The target computer is still starting up.');
def(0x00000404, 'ERRINFO_CB_REDIRECTING_TO_DESTINATION', 'other', 'The connection broker failed while redirecting to the target computer.');
def(0x00000405, 'ERRINFO_CB_SESSION_ONLINE_VM_WAKE', 'other', 'The target virtual machine could not be woken.');
def(0x00000406, 'ERRINFO_CB_SESSION_ONLINE_VM_BOOT', 'other', 'The target virtual machine could not be started.');
def(0x00000407, 'ERRINFO_CB_SESSION_ONLINE_VM_NO_DNS', 'other', 'The IP address of the target virtual machine could not be resolved.');
def(0x00000408, 'ERRINFO_CB_DESTINATION_POOL_NOT_FREE', 'other', 'No computer in the pool is free to take the session.');
def(0x00000409, 'ERRINFO_CB_CONNECTION_CANCELLED', 'other', 'The connection was cancelled during brokering.');
def(0x00000410, 'ERRINFO_CB_CONNECTION_ERROR_INVALID_SETTINGS', 'other', 'The connection settings given to the broker are invalid.');
def(0x00000411, 'ERRINFO_CB_SESSION_ONLINE_VM_BOOT_TIMEOUT', 'timeout', 'The target virtual machine took too long to start.');
def(0x00000412, 'ERRINFO_CB_SESSION_ONLINE_VM_SESSMON_FAILED', 'other', 'Session monitoring on the target virtual machine failed.');
// RDP protocol codes (the server says a PDU from the client was wrong)
const P = 'protocol_error' as const;
def(0x000010c9, 'ERRINFO_UNKNOWNPDUTYPE2', P, 'The server received a Share Data PDU with an unknown pduType2.');
def(0x000010ca, 'ERRINFO_UNKNOWNPDUTYPE', P, 'The server received a Share Control PDU with an unknown pduType.');
def(0x000010cb, 'ERRINFO_DATAPDUSEQUENCE', P, 'The server received a slow-path data PDU out of sequence.');
def(0x000010cd, 'ERRINFO_CONTROLPDUSEQUENCE', P, 'The server received a slow-path non-data PDU out of sequence.');
def(0x000010ce, 'ERRINFO_INVALIDCONTROLPDUACTION', P, 'The server received a Control PDU with an invalid action.');
def(0x000010cf, 'ERRINFO_INVALIDINPUTPDUTYPE', P, 'The server received an input event of an invalid type.');
def(0x000010d0, 'ERRINFO_INVALIDINPUTPDUMOUSE', P, 'The server received a mouse event with invalid pointer flags.');
def(0x000010d1, 'ERRINFO_INVALIDREFRESHRECTPDU', P, 'The server received an invalid Refresh Rect PDU.');
def(0x000010d2, 'ERRINFO_CREATEUSERDATAFAILED', P, 'The server failed to build the GCC Conference Create Response user data.');
def(0x000010d3, 'ERRINFO_CONNECTFAILED', P, 'The Channel Connection phase of the connection sequence failed.');
def(0x000010d4, 'ERRINFO_CONFIRMACTIVEWRONGSHAREID', P, 'The client sent a Confirm Active PDU with the wrong shareId.');
def(0x000010d5, 'ERRINFO_CONFIRMACTIVEWRONGORIGINATOR', P, 'The client sent a Confirm Active PDU with the wrong originatorId.');
def(0x000010da, 'ERRINFO_PERSISTENTKEYPDUBADLENGTH', P, 'A Persistent Key List PDU was too short.');
def(0x000010db, 'ERRINFO_PERSISTENTKEYPDUILLEGALFIRST', P, 'A second Persistent Key List PDU was marked as the first one.');
def(0x000010dc, 'ERRINFO_PERSISTENTKEYPDUTOOMANYTOTALKEYS', P, 'A Persistent Key List PDU announced more than 262144 bitmap cache entries.');
def(0x000010dd, 'ERRINFO_PERSISTENTKEYPDUTOOMANYCACHEKEYS', P, 'A Persistent Key List PDU announced too many keys for one bitmap cache.');
def(0x000010de, 'ERRINFO_INPUTPDUBADLENGTH', P, 'An Input Event PDU was too short.');
def(0x000010df, 'ERRINFO_BITMAPCACHEERRORPDUBADLENGTH', P, 'A Bitmap Cache Error PDU was too short.');
def(0x000010e0, 'ERRINFO_SECURITYDATATOOSHORT', P, 'A Fast-Path Input Event PDU was too short for its security fields.');
def(0x000010e1, 'ERRINFO_VCHANNELDATATOOSHORT', P, 'Virtual channel data (Client Network Data or a Channel PDU Header) was too short.');
def(0x000010e2, 'ERRINFO_SHAREDATATOOSHORT', P, 'A Share Control / Share Data PDU was too short.');
def(0x000010e3, 'ERRINFO_BADSUPRESSOUTPUTPDU', P, 'A Suppress Output PDU was too short or invalid.');
def(0x000010e5, 'ERRINFO_CONFIRMACTIVEPDUTOOSHORT', P, 'A Confirm Active PDU was too short.');
def(0x000010e7, 'ERRINFO_CAPABILITYSETTOOSMALL', P, 'A capability set was too short to hold its type and length.');
def(0x000010e8, 'ERRINFO_CAPABILITYSETTOOLARGE', P, 'A capability set claimed more bytes than were received.');
def(0x000010e9, 'ERRINFO_NOCURSORCACHE', P, 'The client advertised no pointer cache in its Pointer Capability Set.');
def(0x000010ea, 'ERRINFO_BADCAPABILITIES', P, "The server did not accept the client's capabilities in the Confirm Active PDU.");
def(0x000010ec, 'ERRINFO_VIRTUALCHANNELDECOMPRESSIONERR', P, 'The server failed to decompress a virtual channel PDU.');
def(0x000010ed, 'ERRINFO_INVALIDVCCOMPRESSIONTYPE', P, 'A virtual channel PDU used an invalid compression type.');
def(0x000010ef, 'ERRINFO_INVALIDCHANNELID', P, 'A virtual channel PDU used an invalid MCS channel ID.');
def(0x000010f0, 'ERRINFO_VCHANNELSTOOMANY', P, 'The client asked for more than the 31 static virtual channels allowed.');
def(0x000010f3, 'ERRINFO_REMOTEAPPSNOTENABLED', P, 'The server only hosts RemoteApp programs and the client did not set INFO_RAIL.');
def(0x000010f4, 'ERRINFO_CACHECAPNOTSET', P, 'The client sent a Persistent Key List PDU without the bitmap cache capability it needs.');
def(0x000010f5, 'ERRINFO_BITMAPCACHEERRORPDUBADLENGTH2', P, 'A Bitmap Cache Error PDU held fewer info blocks than it announced.');
def(0x000010f6, 'ERRINFO_OFFSCRCACHEERRORPDUBADLENGTH', P, 'An Offscreen Bitmap Cache Error PDU was too short.');
def(0x000010f7, 'ERRINFO_DNGCACHEERRORPDUBADLENGTH', P, 'A DrawNineGrid Cache Error PDU was too short.');
def(0x000010f8, 'ERRINFO_GDIPLUSPDUBADLENGTH', P, 'A GDI+ Error PDU was too short.');
def(0x00001111, 'ERRINFO_SECURITYDATATOOSHORT2', P, 'A PDU was too short for its Basic Security Header.');
def(0x00001112, 'ERRINFO_SECURITYDATATOOSHORT3', P, 'A PDU was too short for its Non-FIPS or FIPS Security Header.');
def(0x00001113, 'ERRINFO_SECURITYDATATOOSHORT4', P, 'The Security Exchange PDU was too short for its header and length fields.');
def(0x00001114, 'ERRINFO_SECURITYDATATOOSHORT5', P, 'The Info Packet was too short for its strings.');
def(0x00001115, 'ERRINFO_SECURITYDATATOOSHORT6', P, 'The Info Packet was too short for its fixed fields.');
def(0x00001116, 'ERRINFO_SECURITYDATATOOSHORT7', P, 'The Extended Info Packet was too short for clientAddressFamily and cbClientAddress.');
def(0x00001117, 'ERRINFO_SECURITYDATATOOSHORT8', P, 'The Extended Info Packet was too short for clientAddress.');
def(0x00001118, 'ERRINFO_SECURITYDATATOOSHORT9', P, 'The Extended Info Packet was too short for cbClientDir.');
def(0x00001119, 'ERRINFO_SECURITYDATATOOSHORT10', P, 'The Extended Info Packet was too short for clientDir.');
def(0x0000111a, 'ERRINFO_SECURITYDATATOOSHORT11', P, 'The Extended Info Packet was too short for clientTimeZone.');
def(0x0000111b, 'ERRINFO_SECURITYDATATOOSHORT12', P, 'The Extended Info Packet was too short for clientSessionId.');
def(0x0000111c, 'ERRINFO_SECURITYDATATOOSHORT13', P, 'The Extended Info Packet was too short for performanceFlags.');
def(0x0000111d, 'ERRINFO_SECURITYDATATOOSHORT14', P, 'The Extended Info Packet was too short for cbAutoReconnectLen.');
def(0x0000111e, 'ERRINFO_SECURITYDATATOOSHORT15', P, 'The Extended Info Packet was too short for autoReconnectCookie.');
def(0x0000111f, 'ERRINFO_SECURITYDATATOOSHORT16', P, 'The Extended Info Packet cbAutoReconnectLen exceeded 128 bytes.');
def(0x00001120, 'ERRINFO_SECURITYDATATOOSHORT17', P, 'The Extended Info Packet was too short for clientAddressFamily and cbClientAddress.');
def(0x00001121, 'ERRINFO_SECURITYDATATOOSHORT18', P, 'The Extended Info Packet was too short for clientAddress.');
def(0x00001122, 'ERRINFO_SECURITYDATATOOSHORT19', P, 'The Extended Info Packet was too short for cbClientDir.');
def(0x00001123, 'ERRINFO_SECURITYDATATOOSHORT20', P, 'The Extended Info Packet was too short for clientDir.');
def(0x00001124, 'ERRINFO_SECURITYDATATOOSHORT21', P, 'The Extended Info Packet was too short for clientTimeZone.');
def(0x00001125, 'ERRINFO_SECURITYDATATOOSHORT22', P, 'The Extended Info Packet was too short for clientSessionId.');
def(0x00001126, 'ERRINFO_SECURITYDATATOOSHORT23', P, 'The Client Info PDU Data was too short.');
def(0x00001129, 'ERRINFO_BADMONITORDATA', P, 'The monitorCount in the Client Monitor Data is invalid.');
def(0x0000112a, 'ERRINFO_VCDECOMPRESSEDREASSEMBLEFAILED', P, 'Decompressed virtual channel data exceeded the chunk size or the buffer was invalid.');
def(0x0000112b, 'ERRINFO_VCDATATOOLONG', P, 'A virtual channel PDU exceeded the negotiated chunk size.');
def(0x0000112c, 'ERRINFO_BAD_FRAME_ACK_DATA', P, 'A Frame Acknowledge PDU was invalid.');
def(0x0000112d, 'ERRINFO_GRAPHICSMODENOTSUPPORTED', P, 'The server does not support the graphics mode the client asked for.');
def(0x0000112e, 'ERRINFO_GRAPHICSSUBSYSTEMRESETFAILED', P, 'The graphics subsystem on the server failed to reset.');
def(0x0000112f, 'ERRINFO_GRAPHICSSUBSYSTEMFAILED', P, 'The graphics subsystem on the server failed.');
def(0x00001130, 'ERRINFO_TIMEZONEKEYNAMELENGTHTOOSHORT', P, 'The dynamic time zone key name from the client was too short.');
def(0x00001131, 'ERRINFO_TIMEZONEKEYNAMELENGTHTOOLONG', P, 'The dynamic time zone key name from the client was too long.');
def(0x00001132, 'ERRINFO_DYNAMICDSTDISABLEDFIELDMISSING', P, 'The dynamicDaylightTimeDisabled field was missing from the Extended Info Packet.');
def(0x00001133, 'ERRINFO_VCDECODINGERROR', P, 'The server failed to decode a virtual channel PDU.');
def(0x00001134, 'ERRINFO_VIRTUALDESKTOPTOOLARGE', P, 'The virtual desktop the client asked for is too large.');
def(0x00001135, 'ERRINFO_MONITORGEOMETRYVALIDATIONFAILED', P, 'The monitor geometry from the client failed validation.');
def(0x00001136, 'ERRINFO_INVALIDMONITORCOUNT', P, 'The client asked for an invalid number of monitors.');
// Standard RDP Security codes
def(0x00001191, 'ERRINFO_UPDATESESSIONKEYFAILED', P, 'Updating the Standard RDP Security session keys failed.');
def(0x00001192, 'ERRINFO_DECRYPTFAILED', P, 'Decryption (or session key creation) under Standard RDP Security failed.');
def(0x00001193, 'ERRINFO_ENCRYPTFAILED', P, 'Encryption under Standard RDP Security failed.');
def(0x00001194, 'ERRINFO_ENCPKGMISMATCH', P, "No usable encryption method was found in the client's encryptionMethods.");
def(0x00001195, 'ERRINFO_DECRYPTFAILED2', P, 'Unencrypted data arrived where Standard RDP Security encryption was required.');

/** Every code of MS-RDPBCGR 2.2.5.1.1 known here, ascending. */
export const ERRINFO_CODES: readonly number[] = Object.keys(T)
  .map(Number)
  .sort((a, b) => a - b);

const NAMES: Record<number, string> = Object.fromEntries(ERRINFO_CODES.map((c) => [c, T[c].name]));

/** "ERRINFO_LOGOFF_BY_USER", or "unknown (0x0000abcd)". */
export function errinfoName(code: number): string {
  return codeName(NAMES, code >>> 0);
}

/** One plain sentence from MS-RDPBCGR 2.2.5.1.1, or a sentence saying the code is not in the specification. */
export function errinfoDescription(code: number): string {
  const e = T[code >>> 0];
  return e !== undefined ? e.description : `Error code 0x${(code >>> 0).toString(16).padStart(8, '0')} is not in MS-RDPBCGR 2.2.5.1.1.`;
}

/** normal_end | denied | timeout | protocol_error | other (unknown codes: 'other'). */
export function errinfoClass(code: number): ErrinfoClass {
  const e = T[code >>> 0];
  return e !== undefined ? e.cls : 'other';
}
