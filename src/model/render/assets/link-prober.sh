#!/bin/sh
# amadegi link prober: the monitor role's (src/model/render/monitor.ts; ADR 0013, "The links'
# prober"). Installed by amadegi: do not edit.
#
# Each round pings every link of TARGETS once (one fping for all of them: one echo each, no retry,
# as blackbox_exporter's icmp prober does) and writes each link's probe_success, 1 or 0, with the
# labels TARGETS gives it, to DIR/links.prom for node_exporter's textfile collector, which
# Prometheus scrapes: one scrape for every link instead of one per link. The file is replaced
# whole (written beside it, then renamed), so a scrape never reads half a round. A round that
# cannot ping keeps the last file; its age is what the rule AmadegiLinkProberStale reads.
#
# usage: link-prober.sh TARGETS DIR PERIOD_S TIMEOUT_MS INTERVAL_MS [SPREAD_MS]
#   TARGETS: a line per link: its address, a tab, its labels as Prometheus's text format writes them
#   (rendered and escaped by amadegi: src/model/monitoring.ts). Re-read every round.
#   PERIOD_S: a round starts this many seconds after the last one started (at once if it took longer).
#   TIMEOUT_MS: the wait for a reply; INTERVAL_MS: the least time between two pings (fping -i).
#   SPREAD_MS: a round's pings are spread over at least this many ms (the round's links counted each
#   round): INTERVAL_MS apart, or further where that is more. 0, or absent: INTERVAL_MS apart.
set -u
targets=$1 dir=$2 period=$3 timeout=$4 interval=$5 spread=${6:-0}
raw="$dir/fping.out" tmp="$dir/links.prom.tmp"

# One round: fping's exit status (0: every host answered; 1: some did not; more: fping's own failure).
round() {
  # The pings' spacing: `interval` ms, or the spread over this round's links where that is more.
  gap=$interval
  if [ "$spread" -gt 0 ]; then
    links=$(wc -l <"$targets") || return 2
    [ "$links" -gt 0 ] && [ $((spread / links)) -gt "$gap" ] && gap=$((spread / links))
  fi
  # One echo each, `gap` ms apart, IPv4; ICMP errors are per host on stderr.
  cut -f1 "$targets" | fping -4 -r 0 -B 1 -i "$gap" -t "$timeout" -f - >"$raw" 2>/dev/null
  rc=$?
  [ "$rc" -le 1 ] || return "$rc"
  {
    printf '%s\n' "# HELP probe_success Whether the link answered the prober's last ping." "# TYPE probe_success gauge"
    # fping's lines first ("<address> is alive" / "<address> is unreachable"), then a sample per link.
    awk '
      FILENAME == ARGV[1] { if ($2 == "is") up[$1] = ($3 == "alive") ? 1 : 0; next }
      {
        i = index($0, "\t")
        if (i == 0) next
        a = substr($0, 1, i - 1)
        printf "probe_success{%s} %d\n", substr($0, i + 1), (a in up) ? up[a] : 0
      }
    ' "$raw" "$targets"
  } >"$tmp" && mv -f "$tmp" "$dir/links.prom" || echo "link-prober: cannot write $dir/links.prom" >&2
  return "$rc"
}

# Stopped (SIGTERM): fping, awk or sleep go too (its process group: it runs as a session of its own,
# or in its systemd unit). Each runs in the background and is waited for, so the trap runs at once.
trap 'trap - TERM INT; kill 0 2>/dev/null; exit 0' TERM INT
while :; do
  began=$(date +%s)
  round &
  wait $!
  rc=$?
  [ "$rc" -le 1 ] || echo "link-prober: fping failed (exit $rc); $dir/links.prom keeps the last round" >&2
  left=$((began + period - $(date +%s)))
  if [ "$left" -gt 0 ]; then
    sleep "$left" &
    wait $!
  fi
done
