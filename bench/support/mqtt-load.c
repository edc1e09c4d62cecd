/*
 * MQTT load generator for bench/broker.ts, on libmosquitto (Debian libmosquitto-dev).
 * Compiled at bench time, never committed as a binary:
 *
 *   cc -O2 -o bench/out/mqtt-load bench/support/mqtt-load.c -lmosquitto
 *
 * N publisher connections publish fixed-size payloads at QoS 0 or 1 as fast as flow control
 * allows. The flow control is end to end: each publisher keeps at most W messages that the
 * (first) subscriber has not received yet, and publishes the next one when one arrives (at QoS 1
 * the broker's PUBACKs bound it too). So the load is closed-loop: the rate is what the broker
 * sustains from publishers to subscriber, its queues stay bounded, and the latency is that of
 * N x W messages in flight (not of a queue growing for as long as the run lasts, which a PUBACK
 * window alone gives: brokers acknowledge long before they deliver). A QoS 0 message the broker
 * drops frees its slot after 500 ms without progress (counted as lost). One or a few subscriber
 * connections on a wildcard filter count what arrives and the latency of each message
 * (CLOCK_MONOTONIC stamped into the payload by the publisher; same process, same clock).
 *
 * One thread drives every connection (poll() over their sockets, libmosquitto's loop_read /
 * loop_write / loop_misc), so the generator can use at most one core and its CPU share shows
 * whether it was the bottleneck (close to 1.0 = saturated).
 *
 * Timeline: connect everything, subscribe, publish for WARMUP seconds (not counted), then
 * measure for T seconds (messages received in the window, their latencies), then stop
 * publishing and wait up to DRAIN seconds for what is still under way (counted for loss only).
 * Prints `measure` and `drain` on stdout when the window opens and closes (so the bench can read
 * the broker's CPU over the same window), then one JSON object, including the generator's own CPU (getrusage, all threads).
 *
 * Options (all required unless a default is shown):
 *   -h host (127.0.0.1) -p port -n publishers (50) -s subscribers (1) -q qos (1) -b payload bytes (64)
 *   -t seconds (10) -w warmup seconds (2) -d drain seconds (5) -W window per publisher (20)
 *   -c client-id/username prefix ("ld-"): publisher i is "<prefix><i>", 4 digits, from 1
 *   -T topic pattern with %s for the publisher id ("edgedm/v1/%s/notify")
 *   -F subscriber filter ("edgedm/v1/+/notify")
 *   -P publisher password (none) -U subscriber username (none) -S subscriber password (none)
 *   -I subscriber client id ("bench-monitor")
 *   -x payload template in hex (replaces -b: every message is these bytes) -o where in it the
 *      12-byte stamp (8-byte monotonic ns, 4-byte publisher index) goes (0)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double mono_s(void);

static const char *host = "127.0.0.1";
static int port = 1883, npub = 50, nsub = 1, qos = 1, payload_bytes = 64, seconds = 10, warmup = 2, drain = 5, window = 20;
static const char *id_prefix = "ld-", *topic_pattern = "edgedm/v1/%s/notify", *filter = "edgedm/v1/+/notify";
static const char *template_hex = NULL;
static int stamp_offset = 0;
static const char *pub_pass = NULL, *sub_user = NULL, *sub_pass = NULL, *sub_id = "bench-monitor";

/* Phases: 0 warmup, 1 measuring, 2 draining (no new publications), 3 done. */
static atomic_int phase = 0;
static atomic_long sent_total = 0, acked_total = 0, received_total = 0, received_window = 0, sent_window = 0;
static atomic_long connected = 0, subscribed = 0, disconnects = 0, lost_slots = 0;

/* Latency histogram: 10 us buckets below 2 s, 1 ms buckets from 2 s to 600 s. */
#define FINE_BUCKETS 200000
#define COARSE_BUCKETS 600000
static atomic_uint fine[FINE_BUCKETS];
static atomic_uint coarse[COARSE_BUCKETS];
static atomic_ulong over = 0;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void record_latency(uint64_t ns) {
  uint64_t us = ns / 1000;
  if (us < 2000000) atomic_fetch_add_explicit(&fine[us / 10], 1, memory_order_relaxed);
  else if (us / 1000 < COARSE_BUCKETS) atomic_fetch_add_explicit(&coarse[us / 1000], 1, memory_order_relaxed);
  else atomic_fetch_add_explicit(&over, 1, memory_order_relaxed);
}

/* The latency (ms) below which a share q of the window's messages arrived. */
static double percentile(double q) {
  unsigned long total = 0;
  for (int i = 0; i < FINE_BUCKETS; i++) total += fine[i];
  for (int i = 0; i < COARSE_BUCKETS; i++) total += coarse[i];
  total += over;
  if (total == 0) return -1;
  unsigned long rank = (unsigned long)(q * (double)total), seen = 0;
  if (rank >= total) rank = total - 1;
  for (int i = 0; i < FINE_BUCKETS; i++) {
    seen += fine[i];
    if (seen > rank) return (i * 10 + 5) / 1000.0;
  }
  for (int i = 0; i < COARSE_BUCKETS; i++) {
    seen += coarse[i];
    if (seen > rank) return i + 0.5;
  }
  return 600000;
}

struct pub {
  struct mosquitto *m;
  char id[64], topic[256];
  atomic_int outstanding;
  atomic_int ready;
  unsigned char *buf;
  double last_progress;
  int index;
};
static struct pub *pubs;
static struct mosquitto **subs;

static void publish_one(struct pub *p) {
  uint64_t t = now_ns();
  memcpy(p->buf + stamp_offset, &t, sizeof t);
  memcpy(p->buf + stamp_offset + 8, &p->index, sizeof p->index);
  atomic_fetch_add(&p->outstanding, 1);
  int rc = mosquitto_publish(p->m, NULL, p->topic, payload_bytes, p->buf, qos, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    atomic_fetch_sub(&p->outstanding, 1);
    return;
  }
  atomic_fetch_add_explicit(&sent_total, 1, memory_order_relaxed);
  if (atomic_load(&phase) == 1) atomic_fetch_add_explicit(&sent_window, 1, memory_order_relaxed);
}

/* Keeps the window full; called from the connection's network thread. */
static void refill(struct pub *p) {
  while (atomic_load(&phase) < 2 && atomic_load(&p->outstanding) < window) publish_one(p);
}

static void on_pub_connect(struct mosquitto *m, void *obj, int rc) {
  (void)m;
  struct pub *p = obj;
  if (rc != 0) {
    fprintf(stderr, "mqtt-load: publisher %s refused: %s\n", p->id, mosquitto_connack_string(rc));
    return;
  }
  atomic_store(&p->ready, 1);
  atomic_fetch_add(&connected, 1);
}

static void on_pub_publish(struct mosquitto *m, void *obj, int mid) {
  (void)m;
  (void)mid;
  (void)obj;
  atomic_fetch_add_explicit(&acked_total, 1, memory_order_relaxed);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc) {
  (void)m;
  (void)obj;
  if (rc != 0 && atomic_load(&phase) < 3) {
    atomic_fetch_add(&disconnects, 1);
    fprintf(stderr, "mqtt-load: unexpected disconnect (%d: %s)\n", rc, mosquitto_strerror(rc));
  }
}

static void on_sub_connect(struct mosquitto *m, void *obj, int rc) {
  (void)obj;
  if (rc != 0) {
    fprintf(stderr, "mqtt-load: subscriber refused: %s\n", mosquitto_connack_string(rc));
    return;
  }
  mosquitto_subscribe(m, NULL, filter, qos);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted) {
  (void)m;
  (void)obj;
  (void)mid;
  if (count < 1 || granted[0] > 2) {
    fprintf(stderr, "mqtt-load: subscription to %s refused\n", filter);
    return;
  }
  atomic_fetch_add(&subscribed, 1);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
  (void)obj;
  uint64_t now = now_ns();
  atomic_fetch_add_explicit(&received_total, 1, memory_order_relaxed);
  if (msg->payloadlen < stamp_offset + 12) return;
  uint64_t t;
  int index;
  memcpy(&t, (const char *)msg->payload + stamp_offset, sizeof t);
  memcpy(&index, (const char *)msg->payload + stamp_offset + 8, sizeof index);
  if (m == subs[0] && index >= 0 && index < npub) {
    struct pub *p = &pubs[index];
    if (atomic_load(&p->outstanding) > 0) atomic_fetch_sub(&p->outstanding, 1);
    p->last_progress = mono_s();
    refill(p);
  }
  if (atomic_load(&phase) != 1) return;
  atomic_fetch_add_explicit(&received_window, 1, memory_order_relaxed);
  record_latency(now - t);
}

static double mono_s(void) { return now_ns() / 1e9; }

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}


static struct pollfd *fds;
static struct mosquitto **all;
static int nall;

/* One turn of the network loop over every connection: at most timeout_ms of waiting. */
static void pump(int timeout_ms) {
  for (int i = 0; i < nall; i++) {
    fds[i].fd = mosquitto_socket(all[i]);
    fds[i].events = POLLIN | (mosquitto_want_write(all[i]) ? POLLOUT : 0);
    fds[i].revents = 0;
  }
  int n = poll(fds, nall, timeout_ms);
  if (n < 0 && errno != EINTR) {
    perror("mqtt-load: poll");
    exit(1);
  }
  for (int i = 0; i < nall && n > 0; i++) {
    if (fds[i].revents == 0) continue;
    n--;
    if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) mosquitto_loop_read(all[i], 64);
    if (fds[i].revents & POLLOUT) mosquitto_loop_write(all[i], 64);
  }
  /* What callbacks queued (a refill after a PUBACK) goes out on the next turn via want_write. */
}

static double last_misc = 0;
static void misc(void) {
  double t = mono_s();
  if (t - last_misc < 0.5) return;
  last_misc = t;
  for (int i = 0; i < nall; i++) mosquitto_loop_misc(all[i]);
}

static int pump_until(atomic_long *counter, long target, double timeout_s) {
  double until = mono_s() + timeout_s;
  while (atomic_load(counter) < target) {
    if (mono_s() > until) return -1;
    pump(10);
    misc();
  }
  return 0;
}

static void pump_for(double seconds_) {
  double until = mono_s() + seconds_;
  while (mono_s() < until) {
    pump(5);
    misc();
  }
}

int main(int argc, char **argv) {
  int opt;
  while ((opt = getopt(argc, argv, "h:p:n:s:q:b:t:w:d:W:c:T:F:P:U:S:I:x:o:")) != -1) {
    switch (opt) {
      case 'h': host = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'n': npub = atoi(optarg); break;
      case 's': nsub = atoi(optarg); break;
      case 'q': qos = atoi(optarg); break;
      case 'b': payload_bytes = atoi(optarg); break;
      case 't': seconds = atoi(optarg); break;
      case 'w': warmup = atoi(optarg); break;
      case 'd': drain = atoi(optarg); break;
      case 'W': window = atoi(optarg); break;
      case 'c': id_prefix = optarg; break;
      case 'T': topic_pattern = optarg; break;
      case 'F': filter = optarg; break;
      case 'P': pub_pass = optarg; break;
      case 'U': sub_user = optarg; break;
      case 'S': sub_pass = optarg; break;
      case 'I': sub_id = optarg; break;
      case 'x': template_hex = optarg; break;
      case 'o': stamp_offset = atoi(optarg); break;
      default: fprintf(stderr, "usage: see the comment at the top of mqtt-load.c\n"); return 2;
    }
  }
  if (template_hex) payload_bytes = (int)(strlen(template_hex) / 2);
  if (payload_bytes < stamp_offset + 12) {
    fprintf(stderr, "mqtt-load: the payload (%d bytes) has no room for the stamp at %d\n", payload_bytes, stamp_offset);
    return 2;
  }
  mosquitto_lib_init();

  all = calloc(nsub + npub, sizeof *all);
  fds = calloc(nsub + npub, sizeof *fds);
  subs = calloc(nsub, sizeof *subs);
  for (int i = 0; i < nsub; i++) {
    char id[80];
    if (nsub == 1) snprintf(id, sizeof id, "%s", sub_id);
    else snprintf(id, sizeof id, "%s-%d", sub_id, i);
    subs[i] = mosquitto_new(id, true, NULL);
    mosquitto_int_option(subs[i], MOSQ_OPT_TCP_NODELAY, 1);
    if (sub_user) mosquitto_username_pw_set(subs[i], sub_user, sub_pass);
    mosquitto_connect_callback_set(subs[i], on_sub_connect);
    mosquitto_subscribe_callback_set(subs[i], on_subscribe);
    mosquitto_message_callback_set(subs[i], on_message);
    mosquitto_disconnect_callback_set(subs[i], on_disconnect);
    if (mosquitto_connect(subs[i], host, port, 60) != MOSQ_ERR_SUCCESS) {
      fprintf(stderr, "mqtt-load: cannot connect to %s:%d\n", host, port);
      return 1;
    }
    all[nall++] = subs[i];
  }
  if (pump_until(&subscribed, nsub, 20) != 0) {
    fprintf(stderr, "mqtt-load: subscribers not ready (%ld of %d)\n", atomic_load(&subscribed), nsub);
    return 1;
  }

  pubs = calloc(npub, sizeof *pubs);
  for (int i = 0; i < npub; i++) {
    struct pub *p = &pubs[i];
    snprintf(p->id, sizeof p->id, "%s%04d", id_prefix, i + 1);
    snprintf(p->topic, sizeof p->topic, topic_pattern, p->id);
    p->index = i;
    p->buf = calloc(1, payload_bytes);
    memset(p->buf, 'x', payload_bytes);
    if (template_hex)
      for (int k = 0; k < payload_bytes; k++) {
        unsigned v;
        sscanf(template_hex + 2 * k, "%2x", &v);
        p->buf[k] = (unsigned char)v;
      }
    p->m = mosquitto_new(p->id, true, p);
    mosquitto_int_option(p->m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(p->m, window);
    if (pub_pass) mosquitto_username_pw_set(p->m, p->id, pub_pass);
    mosquitto_connect_callback_set(p->m, on_pub_connect);
    mosquitto_publish_callback_set(p->m, on_pub_publish);
    mosquitto_disconnect_callback_set(p->m, on_disconnect);
    if (mosquitto_connect(p->m, host, port, 60) != MOSQ_ERR_SUCCESS) {
      fprintf(stderr, "mqtt-load: cannot connect publisher %s\n", p->id);
      return 1;
    }
    all[nall++] = p->m;
  }
  if (pump_until(&connected, npub, 30) != 0) {
    fprintf(stderr, "mqtt-load: publishers not connected (%ld of %d)\n", atomic_load(&connected), npub);
    return 1;
  }

  /* Prime every window; from then on each completion publishes the next message. */
  for (int i = 0; i < npub; i++) {
    pubs[i].last_progress = mono_s();
    refill(&pubs[i]);
  }
  pump_for(warmup);

  memset(fine, 0, sizeof fine);
  memset(coarse, 0, sizeof coarse);
  double cpu0 = cpu_seconds(), t0 = mono_s();
  long recv0 = atomic_load(&received_total);
  atomic_store(&received_window, 0);
  atomic_store(&phase, 1);
  printf("measure\n");
  fflush(stdout);
  /* A publisher whose window emptied without a completion (QoS 0 write races) is topped up. */
  for (int s = 0; s < seconds * 10; s++) {
    pump_for(0.1);
    double t = mono_s();
    for (int i = 0; i < npub; i++) {
      struct pub *p = &pubs[i];
      if (qos == 0 && t - p->last_progress > 0.5 && atomic_load(&p->outstanding) > 0) {
        atomic_fetch_add(&lost_slots, atomic_load(&p->outstanding));
        atomic_store(&p->outstanding, 0);
        p->last_progress = t;
      }
      if (atomic_load(&p->outstanding) < window) refill(p);
    }
  }
  atomic_store(&phase, 2);
  double t1 = mono_s(), cpu1 = cpu_seconds();
  printf("drain\n");
  fflush(stdout);
  long in_window = atomic_load(&received_window);
  long sent_in_window = atomic_load(&sent_window);
  (void)recv0;

  /* Drain: wait until everything sent has arrived (one copy per subscriber) or DRAIN seconds. */
  double until = mono_s() + drain;
  while (mono_s() < until && atomic_load(&received_total) < atomic_load(&sent_total) * nsub) {
    pump(5);
    misc();
  }
  atomic_store(&phase, 3);

  double elapsed = t1 - t0;
  printf(
      "{\"publishers\":%d,\"subscribers\":%d,\"qos\":%d,\"payloadBytes\":%d,\"window\":%d,\"seconds\":%.3f,"
      "\"received\":%ld,\"msgsPerSec\":%.1f,\"sentInWindow\":%ld,\"p50Ms\":%.3f,\"p99Ms\":%.3f,\"p999Ms\":%.3f,"
      "\"sentTotal\":%ld,\"ackedTotal\":%ld,\"receivedTotal\":%ld,\"deliveredShare\":%.4f,\"disconnects\":%ld,\"lostSlots\":%ld,"
      "\"generatorCpuSeconds\":%.3f,\"generatorCpuShare\":%.3f}\n",
      npub, nsub, qos, payload_bytes, window, elapsed, in_window, in_window / elapsed, sent_in_window, percentile(0.5), percentile(0.99),
      percentile(0.999), atomic_load(&sent_total), atomic_load(&acked_total), atomic_load(&received_total),
      atomic_load(&sent_total) ? (double)atomic_load(&received_total) / (double)(atomic_load(&sent_total) * nsub) : 0.0,
      atomic_load(&disconnects), atomic_load(&lost_slots), cpu1 - cpu0, (cpu1 - cpu0) / elapsed);
  fflush(stdout);

  for (int i = 0; i < nall; i++) mosquitto_disconnect(all[i]);
  pump_for(0.2);
  for (int i = 0; i < nall; i++) mosquitto_destroy(all[i]);
  mosquitto_lib_cleanup();
  return 0;
}
