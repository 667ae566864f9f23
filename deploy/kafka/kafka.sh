#!/usr/bin/env bash
# deploy/kafka/kafka.sh: a real single-node Apache Kafka broker (KRaft, combined
# broker and controller, bound to 127.0.0.1 only) for local runs and for the
# integration tests. The broker jars come from Maven Central through Maven and
# are cached outside the source tree.
#
#   kafka.sh start [--mock]   start (or reuse) the broker, create the topics,
#                             print the bootstrap address as the last stdout line
#   kafka.sh stop [--purge]   stop the broker (and the mock cluster); --purge
#                             also deletes its data, logs and configuration
#   kafka.sh status           "running at 127.0.0.1:PORT (pid N)" (exit 0),
#                             or "not running" (exit 1)
#   kafka.sh topics           create any missing topic on the running broker
#
# stdout carries data only (the address, the status line); everything else
# goes to stderr. Exit codes: 0 ok, 1 failure (or "not running"), 2 bad usage.
#
# Environment (all optional):
#   WINDWATCH_KAFKA_PORT             PLAINTEXT listener port (9092)
#   WINDWATCH_KAFKA_CONTROLLER_PORT  KRaft controller port (PORT+1)
#   WINDWATCH_KAFKA_DIR              data, logs, pid file ($HOME/.cache/windwatch/kafka-run-PORT)
#   WINDWATCH_KAFKA_CACHE            jar cache ($HOME/.cache/windwatch/kafka)
#   WINDWATCH_KAFKA_VERSION          Apache Kafka version, any 4.x (4.1.1)
#   WINDWATCH_KAFKA_HEAP             broker heap flags (-Xms512m -Xmx512m)
#   WINDWATCH_KAFKA_GC               broker garbage collector flags (-XX:+UseZGC)
#   WINDWATCH_KAFKA_JVM_OPTS         more broker JVM flags, word-split (none)
#   WINDWATCH_KAFKA_LOG_LEVEL        broker log level (INFO)
#   WINDWATCH_KAFKA_START_TIMEOUT    seconds to wait for the broker to answer (90)
#   WINDWATCH_KAFKA_STOP_TIMEOUT     seconds to wait for a clean stop before SIGKILL (30)
#   WINDWATCH_KAFKA_PROPS            extra server.properties lines, "key=value ..."
#   WINDWATCH_KAFKA_TOPIC_TOOL       "admin" (one JVM creates every topic) or
#                                    "TopicCommand" (Kafka's tool, one JVM per topic)
#   WINDWATCH_KAFKA_CDS              1: reuse a class-data archive of the broker (1), 0: never
#   WINDWATCH_TOPICS                 "name:partitions[:compact] ..." (the pipeline's six topics)
#   WINDWATCH_BIN_DIR                where windwatch-mock-kafka is (<repo>/build/bin)
#   JAVA, MVN                        the java and mvn commands (java, mvn)
#
# The mock cluster (start --mock) is librdkafka's built-in fake broker: it keeps
# nothing on disk, fakes transactions and has no timestamp lookup, so it is
# only for a quick look on a machine without Java. Tests never use it.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
readonly SCRIPT_DIR REPO_DIR

readonly HOST=127.0.0.1
KAFKA_VERSION=${WINDWATCH_KAFKA_VERSION:-4.1.1}
# log4j-core is the logging backend Kafka 4.x ships with; slf4j-api 2.x is
# pinned because Kafka's own pom still names 1.7.x, which cannot find the
# log4j2 binding (it would fall back to a silent no-op logger).
readonly LOG4J_VERSION=2.25.3
readonly SLF4J_VERSION=2.0.17
readonly DEP_PLUGIN_VERSION=3.6.1
# Eclipse's compiler runs on a plain JRE, so the topic helper below compiles
# without a JDK.
readonly ECJ_VERSION=3.40.0

PORT=${WINDWATCH_KAFKA_PORT:-9092}
CPORT=${WINDWATCH_KAFKA_CONTROLLER_PORT:-}
CACHE=${WINDWATCH_KAFKA_CACHE:-$HOME/.cache/windwatch/kafka}
RUN_DIR=${WINDWATCH_KAFKA_DIR:-$HOME/.cache/windwatch/kafka-run-$PORT}
HEAP=${WINDWATCH_KAFKA_HEAP:--Xms512m -Xmx512m}
# ZGC collects concurrently: its pauses stay under a millisecond. With G1
# (Kafka's default) the broker's young-generation pauses on a busy 2-core
# machine ran 10-40 ms every second and up to 225 ms, and every reading in
# flight waited them out (raw produce-to-consume p99 37-114 ms at 10,000
# readings/s; 9-12 ms with ZGC, throughput unchanged).
GC=${WINDWATCH_KAFKA_GC:--XX:+UseZGC}
JVM_OPTS=${WINDWATCH_KAFKA_JVM_OPTS:-}
LOG_LEVEL=${WINDWATCH_KAFKA_LOG_LEVEL:-INFO}
START_TIMEOUT=${WINDWATCH_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${WINDWATCH_KAFKA_STOP_TIMEOUT:-30}
EXTRA_PROPS=${WINDWATCH_KAFKA_PROPS:-}
TOPIC_TOOL=${WINDWATCH_KAFKA_TOPIC_TOOL:-admin}
CDS=${WINDWATCH_KAFKA_CDS:-1}
KILLED=0 # set by terminate(): 1 when the process needed SIGKILL
TOPICS=${WINDWATCH_TOPICS:-sensor-data:3 sensor-scored:3 window-stats:3 alerts:3 sensor-data-dlq:3 models:3:compact}
BIN_DIR=${WINDWATCH_BIN_DIR:-$REPO_DIR/build/bin}
JAVA=${JAVA:-java}
MVN=${MVN:-mvn}

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() {
  log "unknown command or option: ${*:-(none)}"
  sed -n '7,13p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# A decimal number without leading zeros (bash would read those as octal).
is_uint() { [[ $1 =~ ^(0|[1-9][0-9]*)$ ]]; }
is_port() { is_uint "$1" && (($1 > 0 && $1 < 65536)); }

check_settings() {
  is_port "$PORT" || die "WINDWATCH_KAFKA_PORT must be a port number (got '$PORT')"
  [[ -n $CPORT ]] || CPORT=$((PORT + 1))
  { is_port "$CPORT" && ((CPORT != PORT)); } ||
    die "WINDWATCH_KAFKA_CONTROLLER_PORT must be a port number other than $PORT (got '$CPORT')"
  is_uint "$START_TIMEOUT" || die "WINDWATCH_KAFKA_START_TIMEOUT must be whole seconds (got '$START_TIMEOUT')"
  is_uint "$STOP_TIMEOUT" || die "WINDWATCH_KAFKA_STOP_TIMEOUT must be whole seconds (got '$STOP_TIMEOUT')"
  [[ $KAFKA_VERSION =~ ^4\.[0-9]+\.[0-9]+$ ]] ||
    die "WINDWATCH_KAFKA_VERSION must be an Apache Kafka 4.x version like 4.1.1 (got '$KAFKA_VERSION')"
  [[ $CDS == [01] ]] || die "WINDWATCH_KAFKA_CDS must be 0 or 1 (got '$CDS')"
  case $TOPIC_TOOL in admin | TopicCommand) ;; *)
    die "WINDWATCH_KAFKA_TOPIC_TOOL must be 'admin' or 'TopicCommand' (got '$TOPIC_TOOL')" ;;
  esac
  [[ -n $RUN_DIR && $RUN_DIR != / ]] || die "WINDWATCH_KAFKA_DIR must name a directory (got '$RUN_DIR')"
  [[ $RUN_DIR == /* ]] || RUN_DIR=$PWD/$RUN_DIR
  set_paths
}

# Derives every path from RUN_DIR, made canonical once it exists, so that the
# broker's command line (which names server.properties) is always the same.
set_paths() {
  [[ -d $RUN_DIR ]] && RUN_DIR=$(cd "$RUN_DIR" && pwd -P)
  DATA_DIR=$RUN_DIR/data
  LOG_FILE=$RUN_DIR/logs/server.log
  PID_FILE=$RUN_DIR/kafka.pid
  PROPS=$RUN_DIR/server.properties
  MOCK_PID_FILE=$RUN_DIR/mock.pid
  MOCK_ADDR_FILE=$RUN_DIR/mock.addr
  MOCK_LOG=$RUN_DIR/logs/mock.log
  JARS=$CACHE/jars
  BOOTSTRAP=$HOST:$PORT
  # The tools start fast (C1 only, serial GC) and do little work.
  TOOL_OPTS=(-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
    -Dlog4j2.configurationFile="$RUN_DIR/log4j2-tools.properties")
}

make_run_dir() {
  mkdir -p "$RUN_DIR/logs" || die "cannot create $RUN_DIR/logs (WINDWATCH_KAFKA_DIR)"
  set_paths
}

# Seconds since the epoch with microseconds, for deadlines and timings.
now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
before() { awk -v a="$(now)" -v b="$1" 'BEGIN { exit !(a < b) }'; }
deadline() { awk -v a="$(now)" -v s="$1" 'BEGIN { printf "%.6f", a + s }'; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }

# Exclusive locks, so that two concurrent starts or stops of one broker, or
# two first fetches into one cache, take turns: fd 9 guards WINDWATCH_KAFKA_DIR
# for the rest of the command, fd 8 the jar cache while it is filled. Every
# long-lived child is started with both closed: a broker that inherited fd 9
# would hold the lock for its whole life and block the next 'stop'.
lock_run_dir() {
  command -v flock >/dev/null 2>&1 || return 0
  local secs=$((START_TIMEOUT + STOP_TIMEOUT + 30))
  exec 9>"$RUN_DIR/.lock"
  flock -w "$secs" 9 ||
    die "another kafka.sh held $RUN_DIR/.lock for ${secs}s (see: fuser -v $RUN_DIR/.lock)"
}
lock_cache() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 8>"$CACHE/.lock"
  flock -w 900 8 || die "another kafka.sh has been filling $CACHE for 15 minutes (see: fuser -v $CACHE/.lock)"
}
unlock_cache() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 8>&-
}

# ---- processes ---------------------------------------------------------------

cmdline_of() { [[ -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline"; }

# The broker's pid, or nothing. A pid file whose process is gone, or now
# belongs to another program, is ignored; a broker whose pid file was lost is
# found by its command line, which names this instance's server.properties.
broker_pid() {
  local pid cmd want="kafka.Kafka $PROPS "
  if [[ -f $PID_FILE ]]; then
    pid=$(<"$PID_FILE")
    if is_uint "$pid" && cmd=$(cmdline_of "$pid") && [[ $cmd == *"$want"* ]]; then
      printf '%s' "$pid"
      return 0
    fi
  fi
  # One grep over every command line; candidates are then checked exactly.
  local f
  while read -r f; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    cmd=$(cmdline_of "$pid" 2>/dev/null) || continue
    if [[ $cmd == *"$want"* ]]; then
      printf '%s' "$pid"
      return 0
    fi
  done < <(grep -laF -- "$PROPS" /proc/[0-9]*/cmdline 2>/dev/null)
  return 0
}

mock_pid() {
  local pid cmd
  [[ -f $MOCK_PID_FILE ]] || return 0
  pid=$(<"$MOCK_PID_FILE")
  if is_uint "$pid" && cmd=$(cmdline_of "$pid") && [[ $cmd == *windwatch-mock-kafka* ]]; then
    printf '%s' "$pid"
  fi
  return 0
}

# SIGTERM, wait up to STOP_TIMEOUT seconds, then SIGKILL. $1 pid, $2 what.
terminate() {
  local pid=$1 what=$2 until_t
  KILLED=0
  log "stopping $what (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || return 0
  until_t=$(deadline "$STOP_TIMEOUT")
  while kill -0 "$pid" 2>/dev/null && before "$until_t"; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$what (pid $pid) did not stop within ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    KILLED=1
    until_t=$(deadline 10)
    while kill -0 "$pid" 2>/dev/null && before "$until_t"; do sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && die "$what (pid $pid) survived SIGKILL"
  fi
  return 0
}

# Something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# The broker answers a metadata request (kcat, when installed). The port is
# tried first: kcat waits out its whole timeout (-m, seconds) when nothing
# listens, and the broker opens its client listener only at the end of its
# start-up.
broker_answers() {
  port_open "$PORT" || return 1
  if command -v kcat >/dev/null 2>&1; then
    kcat -b "$BOOTSTRAP" -L -m 2 >/dev/null 2>&1
  fi
}

# This instance's broker has finished starting: its own log says so. Another
# process that took the port meanwhile cannot fake this, since our broker
# would have died on the taken port instead.
broker_started() { grep -q 'Kafka Server started' "$LOG_FILE" 2>/dev/null; }

# Waits until broker $1 answers. If it dies or the deadline passes, shows the
# end of its log and fails (a broker that never came up is stopped).
wait_ready() {
  local pid=$1 t0 until_t
  t0=$(now)
  until_t=$(deadline "$START_TIMEOUT")
  while ! { kill -0 "$pid" 2>/dev/null && broker_started && broker_answers; }; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      KILLED=1 # whatever it dumped is not to be trusted
      cds_collect
      log "the broker (pid $pid) exited during start-up; last lines of $LOG_FILE:"
      tail -n 40 "$LOG_FILE" >&2 || true
      die "broker did not start"
    fi
    if ! before "$until_t"; then
      log "the broker (pid $pid) did not answer on $BOOTSTRAP within ${START_TIMEOUT}s; last lines of $LOG_FILE:"
      tail -n 40 "$LOG_FILE" >&2 || true
      terminate "$pid" broker
      cds_collect
      rm -f "$PID_FILE"
      die "broker did not start (raise WINDWATCH_KAFKA_START_TIMEOUT on a slow machine)"
    fi
    sleep 0.05
  done
  log "broker answers on $BOOTSTRAP ($(elapsed "$t0") s)"
}

# ---- jars --------------------------------------------------------------------

write_pom() {
  cat >"$CACHE/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by deploy/kafka/kafka.sh: the jars of a local Kafka broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.windwatch</groupId>
  <artifactId>windwatch-kafka-broker</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$SLF4J_VERSION</version></dependency>
    <dependency><groupId>org.eclipse.jdt</groupId><artifactId>ecj</artifactId><version>$ECJ_VERSION</version></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>$DEP_PLUGIN_VERSION</version>
        <executions>
          <execution>
            <id>broker</id>
            <phase>package</phase>
            <goals><goal>copy-dependencies</goal></goals>
            <configuration>
              <outputDirectory>\${jars.dir}</outputDirectory>
              <includeScope>runtime</includeScope>
              <excludeArtifactIds>ecj</excludeArtifactIds>
            </configuration>
          </execution>
          <execution>
            <id>compiler</id>
            <phase>package</phase>
            <goals><goal>copy-dependencies</goal></goals>
            <configuration>
              <outputDirectory>\${tools.dir}</outputDirectory>
              <includeArtifactIds>ecj</includeArtifactIds>
            </configuration>
          </execution>
        </executions>
      </plugin>
    </plugins>
  </build>
</project>
EOF
}

# Fetches the jars into $CACHE/jars unless its stamp names this exact set.
fetch_jars() {
  local stamp_want="kafka=$KAFKA_VERSION log4j=$LOG4J_VERSION slf4j=$SLF4J_VERSION ecj=$ECJ_VERSION"
  mkdir -p "$CACHE" || die "cannot create WINDWATCH_KAFKA_CACHE $CACHE"
  CACHE=$(cd "$CACHE" && pwd)
  JARS=$CACHE/jars
  if [[ -f $CACHE/stamp && $(<"$CACHE/stamp") == "$stamp_want" ]]; then
    return 0
  fi
  lock_cache
  if [[ -f $CACHE/stamp && $(<"$CACHE/stamp") == "$stamp_want" ]]; then
    unlock_cache
    return 0
  fi
  command -v "$MVN" >/dev/null 2>&1 ||
    die "Maven ('$MVN') not found; it fetches the broker jars (Debian: apt-get install maven)"
  log "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central into $CACHE (once)"
  local t0
  t0=$(now)
  rm -rf "$CACHE/stamp" "$CACHE/jars.new" "$CACHE/tools.new" "$CACHE/helper"
  write_pom
  # Maven 3.8 prints colour codes even in batch mode; they are stripped.
  local rc=0
  "$MVN" -q -B -Dstyle.color=never -f "$CACHE/pom.xml" package \
    -Djars.dir="$CACHE/jars.new" -Dtools.dir="$CACHE/tools.new" >"$CACHE/maven.log" 2>&1 || rc=$?
  sed 's/\x1b\[[0-9;]*m//g' "$CACHE/maven.log" | grep -v '^[[:space:]]*$' >&2 || true
  ((rc == 0)) ||
    die "Maven could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (is the version served? see $CACHE/pom.xml)"
  compgen -G "$CACHE/jars.new/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null ||
    die "Maven finished but $CACHE/jars.new lacks kafka_2.13-$KAFKA_VERSION.jar"
  rm -rf "$CACHE/jars" "$CACHE/tools"
  mv "$CACHE/jars.new" "$CACHE/jars"
  mv "$CACHE/tools.new" "$CACHE/tools"
  printf '%s\n' "$stamp_want" >"$CACHE/stamp"
  log "fetched $(find "$CACHE/jars" -name '*.jar' | wc -l) jars ($(elapsed "$t0") s)"
  unlock_cache
}

need_java() {
  command -v "$JAVA" >/dev/null 2>&1 ||
    die "Java ('$JAVA') not found; the broker needs Java 17+ (Debian: apt-get install openjdk-17-jre-headless), or try 'start --mock'"
}

# A short-lived Kafka tool; TOOL_OPTS (set_paths) make it start fast.
tool_java() { "$JAVA" "${TOOL_OPTS[@]}" "$@"; }

# ---- configuration and storage -------------------------------------------------

write_config() {
  {
    printf '# Generated by deploy/kafka/kafka.sh at every start; edits are lost.\n'
    printf '# Single node, broker and controller in one process, loopback only.\n'
    printf 'process.roles=broker,controller\n'
    printf 'node.id=1\n'
    printf 'controller.quorum.voters=1@%s:%s\n' "$HOST" "$CPORT"
    printf 'listeners=PLAINTEXT://%s:%s,CONTROLLER://%s:%s\n' "$HOST" "$PORT" "$HOST" "$CPORT"
    printf 'advertised.listeners=PLAINTEXT://%s:%s\n' "$HOST" "$PORT"
    printf 'controller.listener.names=CONTROLLER\n'
    printf 'inter.broker.listener.name=PLAINTEXT\n'
    printf 'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n'
    printf 'log.dirs=%s\n' "$DATA_DIR"
    printf 'num.partitions=3\n'
    printf 'default.replication.factor=1\n'
    printf 'min.insync.replicas=1\n'
    # One replica of every internal topic: there is one broker. Fewer
    # partitions than the default 50 make the first consumer group and the
    # first transaction come up faster; one broker gains nothing from more.
    printf 'offsets.topic.replication.factor=1\n'
    printf 'offsets.topic.num.partitions=10\n'
    printf 'transaction.state.log.replication.factor=1\n'
    printf 'transaction.state.log.min.isr=1\n'
    printf 'transaction.state.log.num.partitions=10\n'
    # A transaction left open by a crashed or stalled processor holds back
    # read_committed readers until the broker aborts it: look for timed-out
    # transactions every second instead of every 10.
    printf 'transaction.abort.timed.out.transaction.cleanup.interval.ms=1000\n'
    # The log cleaner's dedupe buffer is allocated whole on the heap (128 MiB
    # by default, a quarter of it). windwatch compacts one small topic
    # (models, a key per line) and the consumer offsets; 32 MiB holds over a
    # million keys and leaves the garbage collector its headroom.
    printf 'log.cleaner.dedupe.buffer.size=33554432\n'
    printf 'share.coordinator.state.topic.replication.factor=1\n'
    printf 'share.coordinator.state.topic.min.isr=1\n'
    # Tests start and stop consumers often: no rebalance delay, and allow
    # short session timeouts (ms).
    printf 'group.initial.rebalance.delay.ms=0\n'
    printf 'group.min.session.timeout.ms=1000\n'
    # After a kill -9 the controller refuses the restarted broker until the
    # old registration's session expires: 4 s instead of 9 s (heartbeats
    # every 0.5 s instead of 2 s keep it alive).
    printf 'broker.heartbeat.interval.ms=500\n'
    printf 'broker.session.timeout.ms=4000\n'
    local kv
    for kv in $EXTRA_PROPS; do
      [[ $kv == *=* ]] || die "WINDWATCH_KAFKA_PROPS entries must be key=value (got '$kv')"
      printf '%s\n' "$kv"
    done
  } >"$PROPS"
  local f level
  for f in log4j2.properties log4j2-tools.properties; do
    level=$LOG_LEVEL
    [[ $f == log4j2-tools.properties ]] && level=WARN
    cat >"$RUN_DIR/$f" <<EOF
# Generated by deploy/kafka/kafka.sh. Everything goes to the console, which
# the script sends to logs/server.log (broker) or stderr (tools).
status = warn
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = $level
rootLogger.appenderRef.console.ref = console
logger.request.name = kafka.request.logger
logger.request.level = WARN
# kafka.sh waits for this logger's "Kafka Server started".
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
# A client that waits for a starting broker warns at every refused connection.
logger.network.name = org.apache.kafka.clients.NetworkClient
logger.network.level = ERROR
EOF
  done
}

# A Kafka UUID (cluster id, directory id): 16 random bytes, base64url without
# padding, the format of Kafka's own Uuid.randomUuid(); like Kafka's, it never
# begins with '-'.
new_uuid() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id == -* || ${#id} -ne 22 ]] || break
  done
  printf '%s' "$id"
}

# The bootstrap.checkpoint that kafka.tools.StorageTool writes for this
# Kafka version, made once per jar cache. With a static controller quorum
# (controller.quorum.voters) a formatted store is exactly that file (the
# initial feature levels, nothing tied to a cluster or a port) plus
# meta.properties, so each new store copies it instead of paying a JVM start
# for StorageTool. Prints the file's path.
format_template() {
  local dir=$CACHE/format/$KAFKA_VERSION tmp
  if [[ ! -s $dir/bootstrap.checkpoint ]]; then
    lock_cache
    if [[ ! -s $dir/bootstrap.checkpoint ]]; then
      tmp=$CACHE/format/tmp.$$
      rm -rf "$tmp"
      mkdir -p "$tmp/data" || die "cannot create $tmp"
      sed "s#^log\.dirs=.*#log.dirs=$tmp/data#" "$PROPS" >"$tmp/server.properties"
      if ! tool_java -cp "$JARS/*" kafka.tools.StorageTool format -t "$(new_uuid)" \
        -c "$tmp/server.properties" >&2; then
        rm -rf "$tmp"
        die "kafka.tools.StorageTool format failed"
      fi
      [[ -s $tmp/data/bootstrap.checkpoint ]] ||
        die "kafka.tools.StorageTool wrote no bootstrap.checkpoint (files: $(ls "$tmp/data"))"
      rm -rf "$dir"
      mkdir -p "$dir" || die "cannot create $dir"
      mv "$tmp/data/bootstrap.checkpoint" "$dir/" || die "cannot fill $dir"
      rm -rf "$tmp"
    fi
    unlock_cache
  fi
  printf '%s' "$dir/bootstrap.checkpoint"
}

# Formats the data directory unless it already holds a KRaft store of node 1,
# which is reused as it is (whatever its cluster id).
prepare_storage() {
  local meta=$DATA_DIR/meta.properties cid nid template
  if [[ -f $meta ]]; then
    cid=$(sed -n 's/^cluster\.id=//p' "$meta")
    nid=$(sed -n 's/^node\.id=//p' "$meta")
    if [[ -n $cid && $nid == 1 ]] &&
      [[ -d $DATA_DIR/__cluster_metadata-0 || -s $DATA_DIR/bootstrap.checkpoint ]]; then
      log "reusing the data in $DATA_DIR (cluster id $cid)"
      FORMATTED=0
      return 0
    fi
    log "the data in $DATA_DIR is not a usable store (cluster.id='$cid' node.id='$nid'); formatting it anew"
  elif [[ -d $DATA_DIR ]] && [[ -n $(ls -A "$DATA_DIR") ]]; then
    log "$DATA_DIR holds no meta.properties (an interrupted format?); formatting it anew"
  fi
  template=$(format_template)
  rm -rf "$DATA_DIR"
  mkdir -p "$DATA_DIR" || die "cannot create $DATA_DIR"
  cp "$template" "$DATA_DIR/bootstrap.checkpoint" || die "cannot write $DATA_DIR/bootstrap.checkpoint"
  cid=$(new_uuid)
  # meta.properties last, written whole: its presence marks a finished format.
  printf '%s\n' "# Written by deploy/kafka/kafka.sh (as kafka.tools.StorageTool format would)" \
    "node.id=1" "directory.id=$(new_uuid)" "version=1" "cluster.id=$cid" >"$DATA_DIR/meta.properties.tmp" ||
    die "cannot write $DATA_DIR/meta.properties.tmp"
  mv "$DATA_DIR/meta.properties.tmp" "$DATA_DIR/meta.properties" || die "cannot write $DATA_DIR/meta.properties"
  log "formatted $DATA_DIR (cluster id $cid)"
  FORMATTED=1
}

# Class-data sharing: the first broker of a jar cache that stops cleanly
# leaves an archive of the classes it loaded, and later starts map it instead
# of loading them from ~90 jars again (about 1 s of a 3 s start). The archive
# is named after the JVM build and the jar set; the JVM also checks that it
# fits, and ignores one that does not. Sets CDS_OPTS.
cds_setup() {
  CDS_OPTS=()
  [[ $CDS == 1 ]] || return 0
  local key archive
  key=$({ "$JAVA" -version 2>&1; cat "$CACHE/stamp"; } | cksum | cut -d' ' -f1)
  archive=$CACHE/cds/kafka-$key.jsa
  if [[ -s $archive ]]; then
    CDS_OPTS=(-XX:SharedArchiveFile="$archive")
  elif mkdir -p "$CACHE/cds" 2>/dev/null; then
    # Dumped when the JVM exits; 'stop' moves it into place once it is whole.
    CDS_OPTS=(-XX:ArchiveClassesAtExit="$archive.$$.tmp")
    printf '%s %s\n' "$archive.$$.tmp" "$archive" >"$RUN_DIR/cds.pending"
  fi
}

# After the broker has exited: keeps the archive it dumped, if it dumped one
# to the end (a SIGKILL may have cut it short).
cds_collect() {
  local tmp final
  [[ -f $RUN_DIR/cds.pending ]] || return 0
  read -r tmp final <"$RUN_DIR/cds.pending" || true
  rm -f "$RUN_DIR/cds.pending"
  [[ -n ${tmp:-} && -n ${final:-} ]] || return 0
  if ((KILLED == 0)) && [[ -s $tmp ]]; then
    mv -f "$tmp" "$final" && log "saved a class-data archive for faster starts: $final"
  else
    rm -f "$tmp"
  fi
}

launch_broker() {
  [[ -f $LOG_FILE ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  cds_setup
  # The broker is put in its own session so that the caller's Ctrl-C or a
  # test harness killing its process group leaves it running; 'stop' ends it.
  # Without job control '&' makes no process group leader, so setsid does not
  # fork and $! is the JVM itself.
  # shellcheck disable=SC2086 # HEAP, GC and JVM_OPTS hold several flags each
  nohup setsid "$JAVA" $HEAP $GC $JVM_OPTS "${CDS_OPTS[@]}" -server \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$RUN_DIR/log4j2.properties" \
    -Dkafka.logs.dir="$RUN_DIR/logs" -cp "$JARS/*" \
    kafka.Kafka "$PROPS" </dev/null >"$LOG_FILE" 2>&1 8>&- 9>&- &
  local pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"
  log "started the broker (pid $pid), log in $LOG_FILE"
  BROKER_PID=$pid
}

# ---- topics --------------------------------------------------------------------

# Splits TOPICS into TOPIC_SPECS (validated name:partitions[:compact] words).
parse_topics() {
  local spec name parts flag rest
  TOPIC_SPECS=()
  for spec in $TOPICS; do
    IFS=: read -r name parts flag rest <<<"$spec"
    [[ $name =~ ^[A-Za-z0-9._-]{1,249}$ ]] ||
      die "WINDWATCH_TOPICS: bad topic name in '$spec' (letters, digits, '.', '_', '-')"
    { is_uint "$parts" && ((parts > 0)); } ||
      die "WINDWATCH_TOPICS: '$spec' needs a partition count > 0, as in $name:3"
    [[ -z $rest && ( -z $flag || $flag == compact ) ]] ||
      die "WINDWATCH_TOPICS: '$spec' may only end in ':compact'"
    TOPIC_SPECS+=("$spec")
  done
}

# Java source of the topic helper: one Admin request creates every topic
# (one JVM start instead of one per topic); existing topics are left alone,
# as TopicCommand --if-not-exists does.
helper_source() {
  cat <<'EOF'
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.TopicExistsException;

/* Usage: WwCreateTopics BOOTSTRAP TIMEOUT_MS name:partitions[:compact]...
 * Gives up after TIMEOUT_MS. Exit 0 when every topic exists afterwards,
 * 1 otherwise. Messages go to stderr. */
public final class WwCreateTopics {
    public static void main(String[] args) throws InterruptedException {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, args[1]);
        props.put(AdminClientConfig.RETRY_BACKOFF_MS_CONFIG, "20");
        props.put(AdminClientConfig.RETRY_BACKOFF_MAX_MS_CONFIG, "200");
        List<NewTopic> topics = new ArrayList<>();
        for (int i = 2; i < args.length; i++) {
            String[] f = args[i].split(":");
            NewTopic t = new NewTopic(f[0], Integer.parseInt(f[1]), (short) 1);
            if (f.length > 2 && f[2].equals("compact"))
                t.configs(Map.of("cleanup.policy", "compact"));
            topics.add(t);
        }
        int rc = 0;
        try (Admin admin = Admin.create(props)) {
            for (Map.Entry<String, KafkaFuture<Void>> e : admin.createTopics(topics).values().entrySet()) {
                try {
                    e.getValue().get();
                    System.err.println("kafka.sh: created topic " + e.getKey());
                } catch (ExecutionException ex) {
                    if (ex.getCause() instanceof TopicExistsException) {
                        System.err.println("kafka.sh: topic " + e.getKey() + " exists");
                    } else {
                        System.err.println("kafka.sh: cannot create topic " + e.getKey() + ": " + ex.getCause());
                        rc = 1;
                    }
                }
            }
        }
        System.exit(rc);
    }
}
EOF
}

# Compiles the helper once per cache (and again when its source changes).
# Prints the class directory, or nothing if it cannot be built.
helper_classes() {
  local sum dir tmp ecj
  sum=$(helper_source | cksum | cut -d' ' -f1)
  dir=$CACHE/helper/$sum
  if [[ ! -f $dir/WwCreateTopics.class ]]; then
    lock_cache
    if [[ ! -f $dir/WwCreateTopics.class ]]; then
      ecj=$(compgen -G "$CACHE/tools/ecj-*.jar" | head -n 1) || true
      [[ -n $ecj ]] || return 0
      tmp=$CACHE/helper/tmp.$$
      rm -rf "$tmp"
      mkdir -p "$tmp" || return 0
      helper_source >"$tmp/WwCreateTopics.java"
      if ! tool_java -jar "$ecj" --release 17 -nowarn -proc:none \
        -cp "$JARS/kafka-clients-$KAFKA_VERSION.jar" -d "$tmp" "$tmp/WwCreateTopics.java" >&2; then
        rm -rf "$tmp"
        return 0
      fi
      # Builds of older versions of the helper go.
      find "$CACHE/helper" -mindepth 1 -maxdepth 1 ! -name "tmp.$$" -exec rm -rf {} +
      mv "$tmp" "$dir" || return 0
    fi
    unlock_cache
  fi
  printf '%s' "$dir"
}

# Creates every topic of TOPICS that the broker lacks. Topics kcat already
# lists are not asked for again, so a start on reused data costs no JVM.
# $1: 1 when the store was formatted by this start.
#
# The helper is started only once the broker answers: a client that retries
# a refused connection many times a second can, on a port in the kernel's
# ephemeral range (tests pick such ports), end up connected to itself.
ensure_topics() {
  local fresh=${1:-0} spec name missing=() listing t0 helper
  parse_topics
  # A store formatted just now has none of them: no need to ask.
  if ((fresh)); then
    missing=("${TOPIC_SPECS[@]}")
  elif command -v kcat >/dev/null 2>&1 && listing=$(kcat -b "$BOOTSTRAP" -L -m 5 2>/dev/null); then
    for spec in "${TOPIC_SPECS[@]}"; do
      name=${spec%%:*}
      grep -qF "  topic \"$name\" with " <<<"$listing" || missing+=("$spec")
    done
  else
    missing=("${TOPIC_SPECS[@]}")
  fi
  if ((${#missing[@]} == 0)); then
    log "topics present: ${TOPICS}"
    return 0
  fi
  t0=$(now)
  helper=
  [[ $TOPIC_TOOL == admin ]] && helper=$(helper_classes)
  if [[ -n $helper ]]; then
    tool_java -cp "$helper:$JARS/*" WwCreateTopics "$BOOTSTRAP" 30000 "${missing[@]}" >&2 ||
      die "creating topics on $BOOTSTRAP failed"
  else
    [[ $TOPIC_TOOL == admin ]] && log "topic helper unavailable; using TopicCommand (one JVM per topic)"
    local parts flag args
    for spec in "${missing[@]}"; do
      IFS=: read -r name parts flag <<<"$spec"
      args=(--bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$name"
        --partitions "$parts" --replication-factor 1)
      [[ $flag == compact ]] && args+=(--config cleanup.policy=compact)
      tool_java -cp "$JARS/*" org.apache.kafka.tools.TopicCommand "${args[@]}" >&2 ||
        die "creating topic $name on $BOOTSTRAP failed (org.apache.kafka.tools.TopicCommand)"
    done
  fi
  log "created topics: ${missing[*]} ($(elapsed "$t0") s)"
}

# ---- mock cluster ----------------------------------------------------------------

start_mock() {
  local bin=$BIN_DIR/windwatch-mock-kafka pid until_t addr
  [[ -x $bin ]] ||
    die "$bin not found; build it first (cmake --build build --target windwatch-mock-kafka) or set WINDWATCH_BIN_DIR"
  parse_topics
  make_run_dir
  lock_run_dir
  pid=$(mock_pid)
  if [[ -n $pid && -s $MOCK_ADDR_FILE ]]; then
    log "mock cluster already running (pid $pid)"
    printf '%s\n' "$(head -n 1 "$MOCK_ADDR_FILE")"
    return 0
  fi
  [[ -n $pid ]] && terminate "$pid" "mock cluster"
  rm -f "$MOCK_PID_FILE" "$MOCK_ADDR_FILE"
  nohup setsid "$bin" "${TOPIC_SPECS[@]}" </dev/null >"$MOCK_ADDR_FILE" 2>"$MOCK_LOG" 8>&- 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$MOCK_PID_FILE"
  until_t=$(deadline 10)
  # windwatch-mock-kafka writes its address as one line once it listens.
  while (($(wc -l <"$MOCK_ADDR_FILE") == 0)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$MOCK_PID_FILE"
      cat "$MOCK_LOG" >&2 || true
      die "windwatch-mock-kafka exited during start-up"
    fi
    before "$until_t" || { terminate "$pid" "mock cluster"; die "windwatch-mock-kafka printed no address within 10 s"; }
    sleep 0.05
  done
  addr=$(head -n 1 "$MOCK_ADDR_FILE")
  log "mock cluster (pid $pid) at $addr: nothing is kept on disk and transactions are faked; for a quick look only"
  printf '%s\n' "$addr"
}

# ---- commands ----------------------------------------------------------------------

cmd_start() {
  local pid t0
  t0=$(now)
  need_java
  make_run_dir
  lock_run_dir
  pid=$(broker_pid)
  if [[ -n $pid ]]; then
    printf '%s\n' "$pid" >"$PID_FILE"
    fetch_jars
    log "broker already running (pid $pid)"
    wait_ready "$pid"
    ensure_topics
    printf '%s\n' "$BOOTSTRAP"
    return 0
  fi
  rm -f "$PID_FILE"
  port_open "$PORT" &&
    die "port $PORT already accepts connections but not from this broker (another Kafka?); stop it or set WINDWATCH_KAFKA_PORT"
  port_open "$CPORT" &&
    die "controller port $CPORT is already in use; set WINDWATCH_KAFKA_CONTROLLER_PORT"
  fetch_jars
  write_config
  prepare_storage
  launch_broker
  wait_ready "$BROKER_PID"
  ensure_topics "$FORMATTED"
  log "ready in $(elapsed "$t0") s"
  printf '%s\n' "$BOOTSTRAP"
}

cmd_stop() {
  local purge=$1 pid
  [[ -d $RUN_DIR ]] || { log "not running"; return 0; }
  lock_run_dir
  pid=$(broker_pid)
  if [[ -n $pid ]]; then
    terminate "$pid" broker
    cds_collect
  else
    log "broker not running"
    rm -f "$RUN_DIR/cds.pending"
  fi
  rm -f "$PID_FILE"
  pid=$(mock_pid)
  [[ -n $pid ]] && terminate "$pid" "mock cluster"
  rm -f "$MOCK_PID_FILE" "$MOCK_ADDR_FILE"
  if ((purge)); then
    # Only what this script made: WINDWATCH_KAFKA_DIR may be a directory
    # that holds other things too.
    rm -rf "$DATA_DIR" "$RUN_DIR/logs" "$PROPS" "$RUN_DIR/log4j2.properties" \
      "$RUN_DIR/log4j2-tools.properties" "$RUN_DIR/cds.pending" "$RUN_DIR/.lock"
    rmdir "$RUN_DIR" 2>/dev/null || true
    log "purged $RUN_DIR"
  fi
}

cmd_status() {
  local pid
  pid=$(broker_pid)
  if [[ -n $pid ]]; then
    if broker_answers; then
      printf 'running at %s (pid %s)\n' "$BOOTSTRAP" "$pid"
      return 0
    fi
    printf 'not answering at %s (pid %s, starting or stuck; see %s)\n' "$BOOTSTRAP" "$pid" "$LOG_FILE"
    return 1
  fi
  pid=$(mock_pid)
  if [[ -n $pid ]]; then
    printf 'running (mock cluster) at %s (pid %s)\n' "$(head -n 1 "$MOCK_ADDR_FILE" 2>/dev/null)" "$pid"
    return 0
  fi
  printf 'not running\n'
  return 1
}

cmd_topics() {
  if [[ -z $(broker_pid) ]] || ! broker_answers; then
    die "no broker answers at $BOOTSTRAP; run: $0 start"
  fi
  need_java
  fetch_jars
  [[ -f $RUN_DIR/log4j2-tools.properties ]] || write_config
  ensure_topics
}

main() {
  case "$*" in
    start) check_settings; cmd_start ;;
    "start --mock") check_settings; start_mock ;;
    stop) check_settings; cmd_stop 0 ;;
    "stop --purge") check_settings; cmd_stop 1 ;;
    status) check_settings; cmd_status ;;
    topics) check_settings; cmd_topics ;;
    -h | --help | help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" ;;
    *) usage "$@" ;;
  esac
}

# 'exit' on the same line: bash reads a script as it runs, so an edit of this
# file during a long 'start' must not be read as more commands.
main "$@"; exit $?
