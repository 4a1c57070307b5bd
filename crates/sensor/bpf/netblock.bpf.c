// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0-only)
// mamori's outbound-connection enforcement: the `blockedOutbound` control of runtime policies in
// enforce mode, decided in the kernel.
//
// cgroup/connect4, connect6, sendmsg4 and sendmsg6 programs (BPF_PROG_TYPE_CGROUP_SOCK_ADDR),
// attached once to the cgroup v2 root. Returning 0 makes connect() (TCP, connected UDP) or an
// unconnected UDP sendmsg() fail with EPERM.
//
// Which container a call comes from is keyed by the caller's cgroup v2 id (the inode of its
// cgroup directory; a container's sub-cgroups match through their ancestors), or, for containers
// without a cgroup v2 directory of their own, by the netns cookie of the socket. Userspace
// (crates/sensor/src/netblock.rs) computes the same keys; keep the layouts below in step with
// crates/sensor/src/netblock/keys.rs and wire.rs.
//
// Rebuild: crates/sensor/bpf/build.sh (clang -O2 -target bpf, CO-RE against vmlinux.h).

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_INET 2
#define AF_INET6 10

// Rule flags (high 32 bits of a target value): which lookups the rule needs.
#define R_PORTS (1u << 0)
#define R_NETS4 (1u << 1)
#define R_NETS6 (1u << 2)

// Key kinds (struct denial.kind).
#define KIND_CGROUP 1
#define KIND_NETNS 2

// Hooks (struct denial.hook).
#define HOOK_CONNECT 1
#define HOOK_SENDMSG 2

// Reasons (struct denial.reason).
#define WHY_PORT 1
#define WHY_NET 2

// Settings indices: how many targets of each kind are installed (skip the lookups when none).
#define CFG_N_CGROUP 0
#define CFG_N_NETNS 1
#define CFG_MAX 4

// Stats indices.
#define ST_DENIED 0
#define ST_LOST 1
#define ST_MAX 4

// How deep the ancestor walk goes (a Kubernetes container is at depth 4 or 5).
#define MAX_DEPTH 16

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_MAX);
	__type(key, __u32);
	__type(value, __u64);
} settings SEC(".maps");

// cgroup v2 id -> rule id (low 32 bits) | rule flags << 32.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64);
} by_cgroup SEC(".maps");

// netns cookie -> rule id | rule flags << 32.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64);
} by_netns SEC(".maps");

// (rule id | port << 32) -> 1.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} ports SEC(".maps");

struct net4_key {
	__u32 prefixlen; // 32 (the rule id) + the network's prefix
	__u32 rule;
	__u8 addr[4];
};

struct net6_key {
	__u32 prefixlen; // 32 + prefix
	__u32 rule;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct net4_key);
	__type(value, __u8);
} nets4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct net6_key);
	__type(value, __u8);
} nets6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ST_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

// One record per denial (56 bytes; decoded in crates/sensor/src/netblock/wire.rs).
struct denial {
	__u64 key;     // cgroup id or netns cookie
	__u32 pid;     // tgid
	__u32 rule;
	__u8 kind;     // KIND_*
	__u8 family;   // AF_INET or AF_INET6 (as the caller asked: a v4-mapped v6 address is AF_INET6)
	__u8 hook;     // HOOK_*
	__u8 reason;   // WHY_*
	__u16 port;    // host byte order
	__u16 pad;
	__u8 addr[16]; // network byte order; the first 4 bytes for AF_INET
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} denials SEC(".maps");

static __always_inline __u64 setting(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&settings, &i);
	return v ? *v : 0;
}

static __always_inline void count(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &i);
	if (v)
		*v += 1;
}

// The rule of the calling container: its cgroup, else the nearest ancestor cgroup with a rule,
// else its network namespace. Fills *kind and *key; returns the target value or 0.
static __always_inline __u64 find_target(struct bpf_sock_addr *ctx, __u8 *kind, __u64 *key)
{
	__u64 *v;
	if (setting(CFG_N_CGROUP)) {
		__u64 cg = bpf_get_current_cgroup_id();
		v = bpf_map_lookup_elem(&by_cgroup, &cg);
		if (v) {
			*kind = KIND_CGROUP;
			*key = cg;
			return *v;
		}
		// Sub-cgroups of a container (systemd or a nested runtime inside it): the deepest
		// ancestor with a rule wins.
		__u64 found = 0;
		for (int level = 1; level < MAX_DEPTH; level++) {
			__u64 anc = bpf_get_current_ancestor_cgroup_id(level);
			if (anc == 0 || anc == cg)
				break;
			v = bpf_map_lookup_elem(&by_cgroup, &anc);
			if (v) {
				found = *v;
				*key = anc;
			}
		}
		if (found) {
			*kind = KIND_CGROUP;
			return found;
		}
	}
	if (setting(CFG_N_NETNS)) {
		__u64 cookie = bpf_get_netns_cookie(ctx);
		v = bpf_map_lookup_elem(&by_netns, &cookie);
		if (v) {
			*kind = KIND_NETNS;
			*key = cookie;
			return *v;
		}
	}
	return 0;
}

static __always_inline int deny(struct bpf_sock_addr *ctx, __u8 kind, __u64 key, __u32 rule,
				__u8 family, __u8 hook, __u8 reason, __u16 port)
{
	count(ST_DENIED);
	struct denial *d = bpf_ringbuf_reserve(&denials, sizeof(*d), 0);
	if (!d) {
		count(ST_LOST);
		return 0;
	}
	d->key = key;
	d->pid = bpf_get_current_pid_tgid() >> 32;
	d->rule = rule;
	d->kind = kind;
	d->family = family;
	d->hook = hook;
	d->reason = reason;
	d->port = port;
	d->pad = 0;
	__builtin_memset(d->addr, 0, sizeof(d->addr));
	if (family == AF_INET) {
		__u32 ip = ctx->user_ip4;
		__builtin_memcpy(d->addr, &ip, 4);
	} else {
		__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1];
		__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];
		__builtin_memcpy(d->addr, &w0, 4);
		__builtin_memcpy(d->addr + 4, &w1, 4);
		__builtin_memcpy(d->addr + 8, &w2, 4);
		__builtin_memcpy(d->addr + 12, &w3, 4);
	}
	bpf_get_current_comm(d->comm, sizeof(d->comm));
	bpf_ringbuf_submit(d, 0);
	return 0;
}

static __always_inline int port_blocked(__u32 rule, __u16 port)
{
	__u64 k = ((__u64)port << 32) | rule;
	return bpf_map_lookup_elem(&ports, &k) != 0;
}

static __always_inline int net4_blocked(__u32 rule, __u32 ip)
{
	struct net4_key k = { .prefixlen = 64, .rule = rule };
	__builtin_memcpy(k.addr, &ip, 4);
	return bpf_map_lookup_elem(&nets4, &k) != 0;
}

static __always_inline int check4(struct bpf_sock_addr *ctx, __u8 hook)
{
	__u8 kind = 0;
	__u64 key = 0;
	__u64 t = find_target(ctx, &kind, &key);
	if (!t)
		return 1;
	__u32 rule = (__u32)t, flags = t >> 32;
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	if ((flags & R_PORTS) && port_blocked(rule, port))
		return deny(ctx, kind, key, rule, AF_INET, hook, WHY_PORT, port);
	if ((flags & R_NETS4) && net4_blocked(rule, ctx->user_ip4))
		return deny(ctx, kind, key, rule, AF_INET, hook, WHY_NET, port);
	return 1;
}

static __always_inline int check6(struct bpf_sock_addr *ctx, __u8 hook)
{
	__u8 kind = 0;
	__u64 key = 0;
	__u64 t = find_target(ctx, &kind, &key);
	if (!t)
		return 1;
	__u32 rule = (__u32)t, flags = t >> 32;
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	if ((flags & R_PORTS) && port_blocked(rule, port))
		return deny(ctx, kind, key, rule, AF_INET6, hook, WHY_PORT, port);
	__u32 w0 = ctx->user_ip6[0], w1 = ctx->user_ip6[1];
	__u32 w2 = ctx->user_ip6[2], w3 = ctx->user_ip6[3];
	// A dual-stack socket reaching an IPv4 host uses ::ffff:a.b.c.d: match the v4 networks.
	if (w0 == 0 && w1 == 0 && w2 == bpf_htonl(0xffff)) {
		if ((flags & R_NETS4) && net4_blocked(rule, w3))
			return deny(ctx, kind, key, rule, AF_INET6, hook, WHY_NET, port);
		return 1;
	}
	if (flags & R_NETS6) {
		struct net6_key k = { .prefixlen = 32 + 128, .rule = rule };
		__builtin_memcpy(k.addr, &w0, 4);
		__builtin_memcpy(k.addr + 4, &w1, 4);
		__builtin_memcpy(k.addr + 8, &w2, 4);
		__builtin_memcpy(k.addr + 12, &w3, 4);
		if (bpf_map_lookup_elem(&nets6, &k))
			return deny(ctx, kind, key, rule, AF_INET6, hook, WHY_NET, port);
	}
	return 1;
}

SEC("cgroup/connect4")
int nb_connect4(struct bpf_sock_addr *ctx)
{
	return check4(ctx, HOOK_CONNECT);
}

SEC("cgroup/connect6")
int nb_connect6(struct bpf_sock_addr *ctx)
{
	return check6(ctx, HOOK_CONNECT);
}

SEC("cgroup/sendmsg4")
int nb_sendmsg4(struct bpf_sock_addr *ctx)
{
	return check4(ctx, HOOK_SENDMSG);
}

SEC("cgroup/sendmsg6")
int nb_sendmsg6(struct bpf_sock_addr *ctx)
{
	return check6(ctx, HOOK_SENDMSG);
}
