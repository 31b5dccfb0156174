// In-container load generator for agents/enforcer/bench/enforcer.mjs (compiled static at bench time).
//   palbench exec N PATH            N serial posix_spawn+wait of PATH; per-exec wall time
//   palbench connect N PORT         N serial TCP connects to its own listener on 127.0.0.1:PORT
//   palbench flood SECS PORT RATE P connects to 127.0.0.1:PORT (P = udp|tcp) for SECS seconds,
//                                   RATE per second (0 = as fast as possible); counts outcomes
//   palbench serve                  reads such commands from stdin, one per line, until EOF, so the
//                                   bench can switch policies between short blocks in one process
// Prints one JSON line per command. Times are CLOCK_MONOTONIC; only this program's work is timed.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

// How the first failed attempt failed ("spawn errno 1", "signal 9", "exit 126", "connect errno 1").
static char first_failure[64] = "";
static void note_failure(const char *how, int value) {
  if (first_failure[0] == '\0') snprintf(first_failure, sizeof first_failure, "%s %d", how, value);
}

static void print_stats(const char *what, uint64_t *t, long n, long failed, uint64_t total) {
  qsort(t, (size_t)n, sizeof *t, cmp_u64);
  double sum = 0;
  for (long i = 0; i < n; i++) sum += (double)t[i];
  printf("{\"what\":\"%s\",\"n\":%ld,\"failed\":%ld,\"p50Ns\":%llu,\"p90Ns\":%llu,\"p99Ns\":%llu,"
         "\"minNs\":%llu,\"meanNs\":%.0f,\"totalNs\":%llu,\"firstFailure\":\"%s\"}\n",
         what, n, failed, (unsigned long long)t[n / 2], (unsigned long long)t[(n * 9) / 10],
         (unsigned long long)t[(n * 99) / 100], (unsigned long long)t[0], sum / (double)n,
         (unsigned long long)total, first_failure);
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static int bench_exec(long n, const char *path) {
  uint64_t *t = calloc((size_t)n, sizeof *t);
  char *argv[] = {(char *)path, NULL};
  long failed = 0;
  uint64_t start = now_ns();
  for (long i = 0; i < n; i++) {
    pid_t pid;
    int status = 0;
    uint64_t t0 = now_ns();
    int rc = posix_spawn(&pid, path, NULL, NULL, argv, environ);
    if (rc == 0 && waitpid(pid, &status, 0) != pid) rc = errno;
    t[i] = now_ns() - t0;
    if (rc != 0) note_failure("spawn errno", rc);
    else if (WIFSIGNALED(status)) note_failure("signal", WTERMSIG(status));
    else if (WEXITSTATUS(status) != 0) note_failure("exit", WEXITSTATUS(status));
    else continue;
    failed++;
  }
  print_stats("exec", t, n, failed, now_ns() - start);
  free(t);
  return 0;
}

static int bench_connect(long n, int port) {
  struct sockaddr_in a = loopback(port);
  int one = 1;
  // No TIME_WAIT left behind (RST on close): thousands of connects must not exhaust ephemeral ports.
  struct linger lg = {1, 0};
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1024) != 0) {
    printf("{\"error\":\"listen on 127.0.0.1:%d: %s\"}\n", port, strerror(errno));
    if (l >= 0) close(l);
    return 1;
  }
  uint64_t *t = calloc((size_t)n, sizeof *t);
  long failed = 0;
  uint64_t start = now_ns();
  for (long i = 0; i < n; i++) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    uint64_t t0 = now_ns();
    int rc = connect(s, (struct sockaddr *)&a, sizeof a);
    t[i] = now_ns() - t0;
    if (rc != 0) {
      note_failure("connect errno", errno);
      failed++;
    } else {
      int c = accept(l, NULL, NULL);
      if (c >= 0) {
        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(c);
      }
    }
    close(s);
  }
  print_stats("connect", t, n, failed, now_ns() - start);
  free(t);
  close(l);
  return 0;
}

static int bench_flood(double secs, int port, double rate, int udp) {
  struct sockaddr_in a = loopback(port);
  struct linger lg = {1, 0};
  long attempts = 0, ok = 0, eperm = 0, refused = 0, other = 0;
  int s = -1;
  uint64_t real_start = real_ns();
  uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9);
  for (;;) {
    uint64_t t = now_ns();
    if (t >= end) break;
    if (rate > 0) {
      // Paced: attempt i is due at start + i/rate; sleep while ahead of schedule.
      uint64_t due = start + (uint64_t)((double)attempts * 1e9 / rate);
      if (due > t) {
        struct timespec ts = {(time_t)((due - t) / 1000000000ull), (long)((due - t) % 1000000000ull)};
        nanosleep(&ts, NULL);
        continue;
      }
    }
    if (s < 0) {
      s = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
      if (!udp) setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    int rc = connect(s, (struct sockaddr *)&a, sizeof a);
    attempts++;
    if (rc == 0) ok++;
    else if (errno == EPERM) eperm++;
    else if (errno == ECONNREFUSED) refused++;
    else other++;
    // A UDP socket may connect again; a TCP socket that connected or failed is replaced.
    if (!udp || (rc != 0 && errno != EPERM)) {
      close(s);
      s = -1;
    }
  }
  uint64_t total = now_ns() - start;
  // Wall-clock start and end, so the bench can line the flood up with the enforcer's own samples.
  printf("{\"what\":\"flood\",\"attempts\":%ld,\"ok\":%ld,\"eperm\":%ld,\"refused\":%ld,\"other\":%ld,"
         "\"totalNs\":%llu,\"startRealMs\":%.3f,\"endRealMs\":%.3f}\n",
         attempts, ok, eperm, refused, other, (unsigned long long)total, (double)real_start / 1e6,
         (double)(real_start + total) / 1e6);
  return 0;
}

static int run(int argc, char **argv);

static int serve(void) {
  char line[512];
  while (fgets(line, sizeof line, stdin)) {
    char *argv[8] = {"palbench"};
    int argc = 1;
    for (char *tok = strtok(line, " \t\n"); tok && argc < 7; tok = strtok(NULL, " \t\n")) argv[argc++] = tok;
    first_failure[0] = '\0';
    if (argc > 1 && run(argc, argv) == 2) printf("{\"error\":\"bad command\"}\n");
    fflush(stdout);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "serve") == 0) return serve();
  return run(argc, argv);
}

static int run(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "exec") == 0) return bench_exec(atol(argv[2]), argv[3]);
  if (argc == 4 && strcmp(argv[1], "connect") == 0) return bench_connect(atol(argv[2]), atoi(argv[3]));
  if (argc == 6 && strcmp(argv[1], "flood") == 0)
    return bench_flood(atof(argv[2]), atoi(argv[3]), atof(argv[4]), strcmp(argv[5], "udp") == 0);
  fprintf(stderr, "usage: palbench exec N PATH | connect N PORT | flood SECS PORT RATE udp|tcp\n");
  return 2;
}
