// Several harts at once, from user space: every thread pinned to a CPU of its own (thread i to
// CPU i mod nproc) adds to shared counters through an AMO (atomic_fetch_add: amoadd.d), a
// compare-and-swap loop (lr.d/sc.d), a pthread mutex (futexes) and a spin lock of its own
// (amoswap.w), and the totals must be exact. Then classic litmus shapes, each for a number of
// rounds, counting the outcomes the RISC-V memory model (RVWMO) forbids, which must be 0:
//   mp      message passing: data, fence rw,w, flag | flag, fence r,rw, data
//   sb+f    store buffering with fences: x=1; fence; y? | y=1; fence; x?  (both 0 forbidden)
//   lb+dep  load buffering with data dependencies: r1=x; y=r1 | r2=y; x=1  (r1=1,r2=1... forbidden)
// and the relaxed outcome of store buffering without fences (both 0, allowed), which only
// harts running at the same time can show. Last, a JIT's shape: one thread rewrites a function
// in an executable page each round and flushes the instruction caches of all harts
// (__builtin___clear_cache: Linux's riscv_flush_icache), the other calls it on its own hart and
// must get the new code's answer, never the old one's.
// Build: riscv64-linux-gnu-gcc -O2 -static -pthread smpstress.c -o smpstress
// Run:   smpstress THREADS ITERATIONS ROUNDS

#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static long threads, iterations, rounds;
static long ncpu;

static atomic_long amo_counter;
static atomic_long cas_counter;
static long mutex_counter;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int spin;
static long spin_counter;

/* The spin-wait hint (Zihintpause), as Linux's cpu_relax(): a fence to harts without it. */
static inline void relax(void) { __asm__ volatile(".4byte 0x0100000f" ::: "memory"); }

static void pin(long cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu % ncpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
    fprintf(stderr, "smpstress: cannot pin to cpu %ld\n", cpu % ncpu);
    exit(2);
  }
}

static void *counters(void *arg) {
  pin((long)arg);
  for (long i = 0; i < iterations; i++) {
    atomic_fetch_add_explicit(&amo_counter, 1, memory_order_relaxed);
    long v = atomic_load_explicit(&cas_counter, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&cas_counter, &v, v + 1, memory_order_relaxed,
                                                  memory_order_relaxed)) {
    }
    if ((i & 15) == 0) {
      pthread_mutex_lock(&mutex);
      mutex_counter++;
      pthread_mutex_unlock(&mutex);
    }
    while (atomic_exchange_explicit(&spin, 1, memory_order_acquire)) relax();
    spin_counter++;
    atomic_store_explicit(&spin, 0, memory_order_release);
  }
  return NULL;
}

/* The two threads of a litmus run meet between its steps: `met` counts a thread's meetings. */
static atomic_long arrived;
static void meet(long *met) {
  atomic_fetch_add_explicit(&arrived, 1, memory_order_acq_rel);
  ++*met;
  while (atomic_load_explicit(&arrived, memory_order_acquire) < 2 * *met) relax();
}

static volatile long data, flag;
static atomic_long x, y;
static long r1[2], r2[2];
static long forbidden_mp, forbidden_sbf, forbidden_lb, relaxed_sb, stale_code;
static int shape;
static unsigned *code;

enum { MP, SB_FENCED, LB_DEP, SB, JIT };

static void *litmus(void *arg) {
  long me = (long)arg, met = 0;
  pin(me);
  for (long r = 0; r < rounds; r++) {
    meet(&met);
    switch (shape) {
      case MP:
        if (me == 0) {
          data = r + 1;
          atomic_thread_fence(memory_order_release);
          flag = r + 1;
        } else {
          while (flag != r + 1) relax();
          atomic_thread_fence(memory_order_acquire);
          if (data != r + 1) forbidden_mp++;
        }
        break;
      case SB_FENCED:
      case SB: {
        atomic_long *mine = me == 0 ? &x : &y, *other = me == 0 ? &y : &x;
        /* A plain sd and ld (GCC makes a relaxed atomic store an amoswap, which orders like a
         * fence on the host): only a FENCE keeps the load from passing the store. */
        *(volatile long *)mine = r + 1;
        if (shape == SB_FENCED) atomic_thread_fence(memory_order_seq_cst);
        long seen = *(volatile long *)other;
        if (me == 0) r1[0] = seen; else r2[0] = seen;
        break;
      }
      case JIT:
        if (me == 0) {
          code[0] = (unsigned)(((r & 2047) << 20) | (10 << 7) | 0x13); /* addi a0,zero,r */
          code[1] = 0x00008067;                                         /* ret */
          __builtin___clear_cache((char *)code, (char *)(code + 2));
          atomic_thread_fence(memory_order_release);
          flag = -(r + 1);
        } else {
          while (flag != -(r + 1)) relax();
          atomic_thread_fence(memory_order_acquire);
          if (((long (*)(void))code)() != (r & 2047)) stale_code++;
        }
        break;
      case LB_DEP:
        if (me == 0) {
          long a = atomic_load_explicit(&x, memory_order_relaxed);
          atomic_store_explicit(&y, a, memory_order_relaxed); /* depends on what it read */
          r1[1] = a;
        } else {
          long b = atomic_load_explicit(&y, memory_order_relaxed);
          atomic_store_explicit(&x, r + 1, memory_order_relaxed);
          r2[1] = b;
        }
        break;
    }
    meet(&met);
    if (me == 0) {
      /* Both wrote their results before meeting; judge the round. */
      if ((shape == SB_FENCED || shape == SB) && r1[0] != r + 1 && r2[0] != r + 1) {
        if (shape == SB_FENCED) forbidden_sbf++; else relaxed_sb++;
      }
      if (shape == LB_DEP && r1[1] == r + 1 && r2[1] == r + 1) forbidden_lb++;
    }
    meet(&met);
  }
  return NULL;
}

static void run(void *(*fn)(void *), long n) {
  pthread_t t[64];
  for (long i = 0; i < n; i++)
    if (pthread_create(&t[i], NULL, fn, (void *)i) != 0) {
      fprintf(stderr, "smpstress: pthread_create failed\n");
      exit(2);
    }
  for (long i = 0; i < n; i++) pthread_join(t[i], NULL);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: smpstress THREADS ITERATIONS ROUNDS\n");
    return 2;
  }
  threads = atol(argv[1]);
  iterations = atol(argv[2]);
  rounds = atol(argv[3]);
  ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (threads < 1 || threads > 64 || iterations < 1 || rounds < 1 || ncpu < 1) return 2;
  run(counters, threads);
  long want = threads * iterations;
  long want_mutex = threads * ((iterations + 15) / 16);
  printf("cpus %ld threads %ld\n", ncpu, threads);
  printf("amo %ld/%ld cas %ld/%ld mutex %ld/%ld spin %ld/%ld\n", (long)amo_counter, want,
         (long)cas_counter, want, mutex_counter, want_mutex, spin_counter, want);
  code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED) {
    perror("smpstress: mmap");
    return 2;
  }
  for (shape = MP; shape <= JIT; shape++) {
    x = 0;
    y = 0;
    arrived = 0;
    run(litmus, 2);
  }
  printf("rounds %ld forbidden mp %ld sb+fences %ld lb+deps %ld relaxed sb %ld stale code %ld\n",
         rounds, forbidden_mp, forbidden_sbf, forbidden_lb, relaxed_sb, stale_code);
  int ok = amo_counter == want && cas_counter == want && mutex_counter == want_mutex &&
           spin_counter == want && forbidden_mp == 0 && forbidden_sbf == 0 && forbidden_lb == 0 &&
           stale_code == 0;
  puts(ok ? "smpstress: ok" : "smpstress: FAILED");
  return ok ? 0 : 1;
}
