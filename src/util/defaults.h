/*
 * Every default and bound of the daemon, in one place.  Each default can
 * be changed with the command-line option named beside it.
 */
#ifndef CHATD_DEFAULTS_H
#define CHATD_DEFAULTS_H

#define CHATD_DEFAULT_CONFIG      "/etc/chatd/chatd.conf" /* -c, --config */
#define CHATD_DEFAULT_LISTEN      "127.0.0.1:7000"        /* --listen */
#define CHATD_DEFAULT_SERVER_NAME "chatd"                 /* --server-name */
#define CHATD_DEFAULT_HISTORY     50u                     /* --history */
#define CHATD_MAX_HISTORY         10000u
/* Messages a join replays from the store for a cursor older than the
 * ring; past it the replay says "truncated" and the client pages back. */
#define CHATD_REPLAY_MAX  1000u
#define CHATD_STORE_RETRY 1.0 /* seconds between tries of a store that failed to write */
/* The longest the loop waits at the end of a turn for a quick writer's
 * commit, so that the turn's output leaves in the same turn. */
#define CHATD_STORE_WAIT_MS 1.0
/* Retention: a room keeps its last 100,000 messages (about 15 MB on disk)
 * and a year.  Steady state is then at most a year of a server's traffic,
 * and one busy room cannot take the disk: a small server's store stays in
 * the gigabytes for good. */
#define CHATD_DEFAULT_RETENTION_DAYS     365u            /* --retention-days, 0: no age limit */
#define CHATD_DEFAULT_RETENTION_MESSAGES 100000u         /* --retention-messages, 0: no limit */
#define CHATD_PRUNE_INTERVAL             1.0             /* seconds between retention passes */
#define CHATD_PRUNE_BUDGET_MS            2.0             /* loop time one pass may take */
#define CHATD_DEFAULT_ROOM_LINGER        3600.0          /* --room-linger, seconds */
#define CHATD_DEFAULT_ROOM_LINGER_SOLO   300.0           /* --room-linger-solo, seconds */
#define CHATD_DEFAULT_HISTORY_BYTES      (256u << 20)    /* --history-bytes, all rooms */
#define CHATD_DEFAULT_ROOM_HIST_BYTES    (1u << 20)      /* --room-history-bytes, one room */
#define CHATD_DEFAULT_PING_INTERVAL      30.0            /* --ping-interval, seconds */
#define CHATD_DEFAULT_PING_TIMEOUT       30.0            /* --ping-timeout, seconds */
#define CHATD_DEFAULT_MAX_QUEUE          (1024u * 1024u) /* --max-queue, bytes */
#define CHATD_MIN_MAX_QUEUE              4096u
#define CHATD_DEFAULT_MAX_QUEUE_TOTAL    (128u << 20) /* --max-queue-total, bytes, 0: no limit */
#define CHATD_DEFAULT_MAX_FRAME          8192u        /* --max-frame, payload bytes */
#define CHATD_DEFAULT_MAX_TEXT           4096u        /* --max-text, bytes */
#define CHATD_DEFAULT_MAX_ROOMS          64u          /* --max-rooms, per session */
#define CHATD_DEFAULT_MAX_MEMBERS        1000u        /* --max-members, 0: no limit */
#define CHATD_DEFAULT_PRESENCE_BATCH     100u         /* --presence-batch, members, 0: never */

/* The HTTP front end (docs/http.md, section 12). */
#define CHATD_DEFAULT_HTTP_REQUEST_LINE  4096u   /* --http-max-request-line, bytes */
#define CHATD_DEFAULT_HTTP_HEADER_BYTES  8192u   /* --http-max-header-bytes */
#define CHATD_DEFAULT_HTTP_BODY          65536u  /* --http-max-body */
#define CHATD_DEFAULT_HTTP_REQUESTS      1000u   /* --http-max-requests, per connection */
#define CHATD_DEFAULT_HTTP_SESSION_IDLE  60.0    /* --http-session-timeout, seconds */
#define CHATD_DEFAULT_HTTP_MAX_WAIT      30.0    /* --http-max-wait, seconds */
#define CHATD_DEFAULT_HTTP_MAILBOX       256u    /* --http-mailbox, events */
#define CHATD_DEFAULT_HTTP_MAILBOX_BYTES 262144u /* --http-mailbox-bytes */
#define CHATD_DEFAULT_HTTP_SESSIONS      10000u  /* --http-max-sessions */
#define CHATD_DEFAULT_HTTP_SESSIONS_IP   128u    /* --http-max-sessions-per-ip */
#define CHATD_HTTP_SSE_KEEPALIVE         15.0    /* seconds between comment lines on a stream */
#define CHATD_DEFAULT_MAX_CONNS          0u      /* --max-conns, 0: what descriptors allow */
#define CHATD_DEFAULT_MAX_CONNS_PER_IP   128u    /* --max-conns-per-ip, 0: no limit */
#define CHATD_DEFAULT_MAX_ROOMS_TOTAL    100000u /* --max-rooms-total, 0: no limit */
#define CHATD_DEFAULT_HANDSHAKE          60.0    /* --handshake-timeout, seconds */
#define CHATD_FD_RESERVE                 32      /* descriptors kept for everything but clients */
#define CHATD_REFUSE_SLACK               64      /* connections held past max-conns to say why */
#define CHATD_DEFAULT_FLOOD_RATE         50u     /* --flood-rate, frames/s, 0: off */
#define CHATD_DEFAULT_FLOOD_BURST        100u    /* --flood-burst, frames */
#define CHATD_DEFAULT_DETECT_WINDOW      0.3     /* --detect-window, seconds */
#define CHATD_DEFAULT_SHUTDOWN_TIMEOUT   5.0     /* --shutdown-timeout, seconds */
#define CHATD_MAX_LISTEN                 16      /* --listen may be given this often */
/* The cluster backplane (docs/cluster.md). */
#define CHATD_MAX_CLUSTER     16  /* --cluster may be given this often: Redis shards */
#define CHATD_CLUSTER_URL_MAX 189 /* characters of a --cluster URL: "cluster = URL" fits a line */
#define CHATD_NODE_NAME_MAX   63  /* characters of --node-name */
#define CHATD_CLUSTER_READY_S 10  /* s a node waits for its Redis links before it listens */

/* The IRC front end (docs/irc.md): RFC 2812's line and IRCv3's tags. */
#define CHATD_DEFAULT_IRC_LINE_MAX 512u   /* --irc-line-max, bytes with CR LF; also the least */
#define CHATD_DEFAULT_IRC_TAGS_MAX 8191u  /* --irc-tags-max, bytes of a line's tags */
#define CHATD_IRC_LINE_MAX_HARD    8192u  /* --irc-line-max at most */
#define CHATD_IRC_TAGS_MAX_HARD    65535u /* --irc-tags-max at most */
#define CHATD_IRC_TAGS_MIN         512u   /* --irc-tags-max at least */

/* Bounds of the options above that the protocols impose (checked against
 * them where they are defined: framed.c, core/vocab.h). */
#define CHATD_FRAME_MAX_HARD     (1u << 20) /* --max-frame at most */
#define CHATD_TEXT_MAX_HARD      65535u     /* --max-text at most */
#define CHATD_FRAME_SAY_OVERHEAD 71u        /* a SAY's payload beyond its text, at most */

/* Not configurable: internal budgets. */
#define CHATD_READ_CHUNK   65536                /* bytes read per read(2) */
#define CHATD_WRITE_BUDGET ((size_t)256 * 1024) /* bytes written per connection per loop turn */
/* The work one connection may cause in one loop turn, in units: each
 * request (frame, line) costs CHATD_TURN_REQUEST, each delivery it causes
 * (a message or event to a member, a history message replayed) one. */
#define CHATD_TURN_WORK         16384
#define CHATD_TURN_REQUEST      16
#define CHATD_PRODUCE_LOW       (64 * 1024) /* a long answer goes on while less than this is unsent */
#define CHATD_JOIN_NAMES        256         /* members named in a JOIN answer; WHO names them all */
#define CHATD_WRITE_IOV         256         /* blocks gathered per writev(2) */
#define CHATD_DRAIN_TIMEOUT     2.0         /* seconds to flush a final error before closing */
#define CHATD_WS_FRAGMENTS      256         /* fragments of one WebSocket message, at most */
#define CHATD_PRECONNECT_WINDOW 10.0        /* detect-window for an address loading a page */
#define CHATD_LISTEN_BACKLOG    4096
#define CHATD_EMFILE_PAUSE      0.1         /* seconds the listeners rest when out of descriptors */
#define CHATD_MMAP_THRESHOLD    (32 * 1024) /* allocations this big are mmapped */
#define CHATD_STATUS_INTERVAL   5.0         /* seconds between systemd STATUS= updates */
#define CHATD_SUMMARY_INTERVAL  1.0         /* seconds between a large room's presence summaries */
#define CHATD_REPLY_BLOCK       512         /* bytes per private reply block */
#define CHATD_COPY_BLOCK        4096        /* bytes per block a stalled queue copies into */

#endif
