/**
 * @file processor_restore.h
 * @brief Restore each line's newest model from the compacted models topic.
 *
 * The models topic (key = line id, value = the full serialised model, written
 * in the same transactions as every other output) is the processor's model
 * changelog. A processor that starts, or that is assigned partitions whose
 * lines have no model here, reads it to its end (read_committed) and loads the
 * newest version of every line that has none, so scoring resumes as soon as
 * the line's baselines exist instead of after --train-size readings.
 *
 * The alerts topic is read back the same way for the alerts that are still
 * open, so that an episode keeps its alert_id when its line changes hands.
 */
#ifndef WW_PROCESSOR_RESTORE_H
#define WW_PROCESSOR_RESTORE_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "processor.h"
#include "windwatch/config.h"

/**
 * @brief Load the newest model on \p topic into every line of \p proc that
 *        has no model yet (lines with one are left alone).
 * @returns the number of lines restored, or -1 if the topic could not be read
 *          within \p timeout_ms (logged; the lines then train as usual).
 */
int ww_proc_restore_models(const ww_config_t *cfg, ww_proc_t *proc, const char *topic,
                           int timeout_ms);

/**
 * @brief Carry the open alerts over from the alerts topic: replay its events
 *        of the last \p lookback_ms (by message timestamp) and give every line
 *        that has no state yet the alerts they leave open (ww_proc_carry_*).
 * @returns the number of alerts carried over, or -1 if the topic could not be
 *          read within \p timeout_ms (logged; nothing is carried over).
 */
int ww_proc_restore_alerts(const ww_config_t *cfg, ww_proc_t *proc, const char *topic,
                           int64_t lookback_ms, int timeout_ms);

/**
 * @brief Rebuild the windows and baselines of the lines of newly assigned
 *        partitions by replaying the input before their committed offsets
 *        (ww_proc_replay_begin()): per partition, the messages with a
 *        timestamp from \p lookback_ms before the last one processed, at
 *        most \p max_messages, up to the committed offset; and of those,
 *        from the first reading whose event time is at most \p lookback_ms
 *        + \p disorder_ms before the last one's (a binary search over the
 *        offsets: a backlog produced faster than real time is not replayed
 *        whole). No output is produced; the windows that were open there
 *        close later with every reading they had, as if the line had never
 *        changed hands.
 * @param parts the input partitions, each with its committed offset (the
 *        next to process); partitions with none (offset <= 0) are skipped.
 * @returns the number of messages replayed, or -1 if the input could not be
 *          read within \p timeout_ms (logged; the lines keep what was replayed,
 *          if anything, and fill from the next reading).
 */
int64_t ww_proc_restore_history(const ww_config_t *cfg, ww_proc_t *proc,
                                const rd_kafka_topic_partition_list_t *parts, int64_t lookback_ms,
                                int64_t disorder_ms, int64_t max_messages, int timeout_ms);

/**
 * @brief Count windows: give the lines of newly assigned partitions the
 *        windows and baselines they had at the committed offsets. Each commit
 *        keeps the lines' reading counts with the offset
 *        (ww_proc_counts_save()); this reads the input back from before the
 *        committed offset until it holds every reading the open windows, the
 *        last closed one and the components' last three panes need (going
 *        back four times as far each round, at most \p max_messages), seeds
 *        the lines with the counts less those readings (ww_proc_counts_seed())
 *        and replays them without outputs (so the range is read twice: the
 *        seed must come before the replay; a few thousand messages for the
 *        default windows). The windows then close exactly
 *        where, and with what, they would have without the move.
 * @param parts the input partitions with their committed offsets and their
 *        metadata; partitions without counts are skipped (their lines' count
 *        windows start again at the next reading).
 * @returns the number of messages replayed, or -1 (logged, as for
 *          ww_proc_restore_history()).
 */
int64_t ww_proc_restore_counts(const ww_config_t *cfg, ww_proc_t *proc,
                               const rd_kafka_topic_partition_list_t *parts, int64_t max_messages,
                               int timeout_ms);

#endif /* WW_PROCESSOR_RESTORE_H */
