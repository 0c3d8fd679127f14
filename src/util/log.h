/*
 * Levelled logging to stderr, one event per line.  Under systemd, when
 * stderr is the journal, lines carry the journal's <N> priority prefix
 * instead of a level word.
 */
#ifndef CHATD_LOG_H
#define CHATD_LOG_H

/* syslog priorities, so that the journal prefix is the level itself */
enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Set the threshold; detect whether stderr is connected to the journal. */
void log_init(enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "debug", "info", ...; returns -1 when the word is unknown. */
int log_level_parse(const char *word);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log at error level and exit(1): for start-up failures and exhausted memory. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* The threshold, read by the macros below so that a line below it costs
 * one comparison: its arguments (which may format an address) are not
 * evaluated. */
extern enum log_level log_threshold;

#define log_at(level, ...)                                                                         \
	do {                                                                                       \
		if ((level) <= log_threshold)                                                      \
			log_msg((level), __VA_ARGS__);                                             \
	} while (0)
#define log_debug(...)  log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)   log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_notice(...) log_at(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_warn(...)   log_at(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_err(...)    log_at(LOG_LEVEL_ERR, __VA_ARGS__)

#endif
