/**
 * @file processor_kafka.h
 * @brief The processor's Kafka side: consumer group member, producer of every
 *        output, transactions (exactly-once) or flush-then-commit (at-least-once).
 */
#ifndef WW_PROCESSOR_KAFKA_H
#define WW_PROCESSOR_KAFKA_H

#include "windwatch/config.h"

/**
 * @brief Run until SIGINT/SIGTERM (real_time) or the end of every partition (batch).
 * @returns the process exit code: 0 clean, 1 runtime failure (Kafka, transaction),
 *          2 configuration error. Batch mode prints the JSON summary on stdout.
 */
int ww_proc_run(const ww_config_t *cfg);

#endif /* WW_PROCESSOR_KAFKA_H */
