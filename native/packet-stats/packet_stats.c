/*
 * packet_stats: libpcap's kernel drop counter for the captures of this process (Linux).
 *
 * The `cap` module keeps its pcap_t to itself and never calls pcap_stats(). On Linux libpcap
 * captures through an AF_PACKET socket, and pcap_stats() is (pcap-linux.c, pcap_stats_linux):
 *
 *   getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &kstats, &len);
 *   ps_recv += kstats.tp_packets;  ps_drop += kstats.tp_drops;
 *
 * with a running total, because every PACKET_STATISTICS read resets the kernel's counters
 * (net/packet/af_packet.c packet_getsockopt: the counters are copied, then zeroed). The kernel adds
 * tp_drops to tp_packets before copying them out, so tp_packets counts every packet that passed the
 * filter, the dropped ones included (what tcpdump prints as "received by filter"); tp_drops is
 * "dropped by kernel" (no room in the socket's ring). A TPACKET_V3 socket also has tp_freeze_q_cnt
 * (blocks the ring was frozen for; packet(7), struct tpacket_stats_v3); libpcap asks for
 * sizeof(struct tpacket_stats) and never reads it, a TPACKET_V2 socket (libpcap in immediate mode,
 * which cap asks for) does not have it: it is null then.
 *
 * The socket lives in this process, so it is found here: every /proc/self/fd entry that is a socket
 * whose getsockname() family is AF_PACKET is read, and the totals are kept per socket (by inode, so
 * a reused fd number starts again) across reads, in this module, for every caller in the process.
 * Nothing else in the process may read PACKET_STATISTICS on these sockets (cap does not).
 *
 * read() -> [{ fd, inode, ifindex, iface, packets, drops, freezeQueue }], totals since the socket
 * was first seen by read() (the first read takes everything since the socket was opened).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <node_api.h>

/* Sockets followed at once; more AF_PACKET sockets than this in one process are not counted. */
#define MAX_SOCKETS 64

struct totals {
  uint64_t inode;       /* 0: free slot */
  uint64_t packets;     /* sum of tp_packets */
  uint64_t drops;       /* sum of tp_drops */
  uint64_t freeze_q;    /* sum of tp_freeze_q_cnt (TPACKET_V3 only) */
  int v3;               /* the kernel returned a struct tpacket_stats_v3 */
  unsigned seen;        /* scan generation it was last seen in */
};

static struct totals table[MAX_SOCKETS];
static unsigned generation;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct socket_row {
  int fd;
  uint64_t inode;
  int ifindex;
  char iface[IF_NAMESIZE];
  int has_iface;
  uint64_t packets, drops, freeze_q;
  int v3;
};

static struct totals *slot_for(uint64_t inode) {
  struct totals *free_slot = NULL;
  for (int i = 0; i < MAX_SOCKETS; i++) {
    if (table[i].inode == inode) return &table[i];
    if (table[i].inode == 0 && free_slot == NULL) free_slot = &table[i];
  }
  if (free_slot != NULL) {
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->inode = inode;
  }
  return free_slot;
}

/* Scans /proc/self/fd; fills rows (at most MAX_SOCKETS); returns their number, or -errno. */
static int scan(struct socket_row *rows) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return -errno;
  int own = dirfd(d);
  int n = 0;
  pthread_mutex_lock(&lock);
  generation++;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < MAX_SOCKETS) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    if (*e->d_name == '\0' || *end != '\0' || fd < 0 || fd == own) continue;
    struct stat st;
    if (fstat((int)fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    struct sockaddr_ll sll;
    socklen_t alen = sizeof sll;
    memset(&sll, 0, sizeof sll);
    if (getsockname((int)fd, (struct sockaddr *)&sll, &alen) != 0 || sll.sll_family != AF_PACKET) continue;
    /* No room to keep its totals: not read at all (a read would reset counts we could not keep). */
    struct totals *t = slot_for((uint64_t)st.st_ino);
    if (t == NULL) continue;
    /* packet(7): PACKET_STATISTICS; the kernel copies min(len, its struct's size) and sets len. */
    struct tpacket_stats_v3 k;
    socklen_t klen = sizeof k;
    memset(&k, 0, sizeof k);
    if (getsockopt((int)fd, SOL_PACKET, PACKET_STATISTICS, &k, &klen) != 0) {
      t->seen = generation; /* still open: its totals are kept for the next read */
      continue;
    }
    t->packets += k.tp_packets;
    t->drops += k.tp_drops;
    if (klen >= sizeof(struct tpacket_stats_v3)) {
      t->v3 = 1;
      t->freeze_q += k.tp_freeze_q_cnt;
    }
    t->seen = generation;
    struct socket_row *r = &rows[n++];
    r->fd = (int)fd;
    r->inode = t->inode;
    r->ifindex = sll.sll_ifindex;
    r->has_iface = sll.sll_ifindex > 0 && if_indextoname((unsigned)sll.sll_ifindex, r->iface) != NULL;
    r->packets = t->packets;
    r->drops = t->drops;
    r->freeze_q = t->freeze_q;
    r->v3 = t->v3;
  }
  /* Sockets closed since the last scan free their slot. */
  for (int i = 0; i < MAX_SOCKETS; i++)
    if (table[i].inode != 0 && table[i].seen != generation) table[i].inode = 0;
  pthread_mutex_unlock(&lock);
  closedir(d);
  return n;
}

static int set_number(napi_env env, napi_value obj, const char *name, double v) {
  napi_value x;
  return napi_create_double(env, v, &x) == napi_ok && napi_set_named_property(env, obj, name, x) == napi_ok;
}

static napi_value read_stats(napi_env env, napi_callback_info info) {
  (void)info;
  struct socket_row rows[MAX_SOCKETS];
  int n = scan(rows);
  if (n < 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "cannot read /proc/self/fd: %s", strerror(-n));
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  napi_value arr;
  if (napi_create_array_with_length(env, (size_t)n, &arr) != napi_ok) return NULL;
  for (int i = 0; i < n; i++) {
    struct socket_row *r = &rows[i];
    napi_value o, s, nul;
    if (napi_create_object(env, &o) != napi_ok) return NULL;
    napi_get_null(env, &nul);
    if (!set_number(env, o, "fd", r->fd) || !set_number(env, o, "inode", (double)r->inode) || !set_number(env, o, "ifindex", r->ifindex) ||
        !set_number(env, o, "packets", (double)r->packets) || !set_number(env, o, "drops", (double)r->drops))
      return NULL;
    if (r->has_iface) {
      if (napi_create_string_utf8(env, r->iface, NAPI_AUTO_LENGTH, &s) != napi_ok) return NULL;
    } else {
      s = nul;
    }
    if (napi_set_named_property(env, o, "iface", s) != napi_ok) return NULL;
    if (r->v3) {
      if (!set_number(env, o, "freezeQueue", (double)r->freeze_q)) return NULL;
    } else if (napi_set_named_property(env, o, "freezeQueue", nul) != napi_ok) {
      return NULL;
    }
    if (napi_set_element(env, arr, (uint32_t)i, o) != napi_ok) return NULL;
  }
  return arr;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "read", NAPI_AUTO_LENGTH, read_stats, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "read", fn) != napi_ok) return NULL;
  return exports;
}
