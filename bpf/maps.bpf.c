// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Every map and every setting of the BPF side, defined once; the program
 * files (libc, syscalls, python) see them through the extern declarations
 * of maps.bpf.h, and bpftool's linker joins them into one skeleton
 * (skel->maps, skel->rodata, skel->bss). The loader sets the rodata
 * settings and the map capacities before load; the .bss variables change
 * while tracing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "mt_abi.h"
#include "mt_python.h"

#define MT_DEFINE_MAPS
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u64 mt_min_size = 0;
const volatile __u64 mt_max_size = 0;
const volatile __u32 mt_self_tgid = 0;
const volatile bool mt_want_stacks = true;
const volatile bool mt_want_age = false;
const volatile bool mt_unwind_cfi = true;
volatile __u32 mt_py_procs_nr = 0;
const volatile __u32 mt_py_depth = MT_PY_MAX_DEPTH;
const volatile __u64 mt_sample_rate = 0;
const volatile __u64 mt_sample_exact = 0;
const volatile __u64 mt_seed = 0;
const volatile bool mt_sampling = false;
volatile __u32 mt_default_tier = MT_TIER_EXACT;
volatile __u32 mt_tiers_nr = 0;
volatile __u32 mt_sys_every = 0; /* -a: the system calls of every process but ours */
const volatile __u32 mt_g_tab[MT_G_BINS + 1] = {};
const volatile __u32 mt_ln_tab[MT_LN_BINS + 1] = {};
const volatile __u32 mt_alloc_mask = 0;
const volatile __u32 mt_site_max = 1;
const volatile __u32 mt_stripe_mask = 0;
volatile __u32 mt_site_next = 0;
volatile __u64 mt_unwind_seq = 0;
volatile __s64 mt_spill_nr = 0;
const volatile bool mt_procs_all = false; /* -a: lifecycle events of every process */
