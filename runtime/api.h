/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The stratad API: the contract between the daemon (runtime/) and every
 * client (cli/, tests). Documented for users in stratad(8).
 *
 * Transport: a SOCK_STREAM unix socket (default /run/strata/strata.sock,
 * mode 0660, group `strata`). One request per connection or several in turn;
 * each message is ONE line of compact JSON terminated by '\n'.
 *
 * Request:
 *   {"verb": "start", "ctid": "101", "args": { ... }}
 *   "ctid" is the numeric CTID as a string or a container name (--name);
 *   verbs without a container omit it. Unknown verbs, unknown args, missing
 *   fields and malformed JSON get an error reply with ST_EXIT_PROTOCOL or
 *   ST_EXIT_BADARG and do nothing.
 *
 * Replies: zero or more event lines, then exactly one final line.
 *   {"event": "progress", "message": "debootstrap: unpacking", "percent": 40}
 *   {"event": "log", "message": "..."}
 *   {"ok": true, "result": { ... }}
 *   {"ok": false, "error": "start 101: mount overlay on `...`: No space left on device",
 *    "exit": 46}
 *   "exit" is a code of enum st_exit (ksal/error.h); the CLI exits with it.
 *
 * Access: SO_PEERCRED; uid 0 and members of group `strata` may do
 * everything; others get {"ok":false,"exit":12,"error":"permission denied"}
 * for anything but "version" and "ping".
 *
 * Verbs and their args (all values strings unless said otherwise):
 *   ping, version                      -> {"version": "0.1.0"}
 *   create   ctid (numeric, >= 101), args: ostemplate, config (sample name),
 *            name, hostname, ipadd (array), private, root, layout, and
 *            options {KEY or vzctl option: value} for any other key.
 *            Allocates the container's 65536-id user-namespace range
 *            (ID_BASE in its config). A failed create leaves nothing.
 *            Errors: 44 exists, 91 template not found, 21 bad value.
 *   destroy  ctid (alias "delete"); 32 while running
 *   start    ctid, args: wait (bool). The reply comes once the init runs;
 *            with wait on a systemd container, once systemd finished booting:
 *            {"booted": bool, "state": "running"|"degraded"|"unknown"}
 *   stop     ctid, args: fast (bool). The reply comes when the container is
 *            down (halt signal, STOP_TIMEOUT, then every task killed).
 *   restart  ctid
 *   status   ctid -> {"ctid","exist","mounted","running","suspended"} (bools)
 *   stat     ctid -> the accounting of a running container (31 if stopped):
 *            {"ctid","status","pid","uptime","cpu_ns","cpu_pct" (% of one CPU
 *            over "cpu_pct_window" s: since the previous sample of
 *            stat/list, else 0.2 s measured now),"mem_bytes","mem_max_bytes",
 *            "mem_limit_bytes" (null: unlimited),"failcnt","oom_kills",
 *            "swap_bytes","numproc","numproc_limit","io_read_bytes",
 *            "io_write_bytes","io_read_ops","io_write_ops","memory_merge",
 *            and with MEMORY_MERGE "ksm_pages","ksm_bytes"}
 *   mount / umount ctid
 *   set      ctid, args: options {"ram":"256M","cpus":"1",...} (vzctl option
 *            names without dashes, or KEY names), save (bool), setmode
 *            ("restart"|"ignore") -> {"restart_needed": [KEY...], "saved": bool}
 *            Cgroup keys apply live to a running container, and so do
 *            ipadd/ipdel on a routed one; a key that
 *            needs a restart on a running container without save/setmode
 *            fails with 109; setmode "restart" restarts it (the reply
 *            comes when it runs again).
 *   list     args: all (bool), stopped (bool) -> {"containers": [ {field: value} ]}
 *            default: running ones only. Every container object carries
 *            ctid, status ("running"|"stopping"|"mounted"|"stopped"),
 *            numproc (int or null), physpages_used (pages or null), pid
 *            (int or null), uptime (seconds or null), ram and swap (PHYSPAGES
 *            and SWAPPAGES as "256M" or null), and every key's list field as
 *            a string or null:
 *            ostemplate hostname onboot bootorder root private stop_timeout
 *            capability privileged name ip netif nameserver searchdomain
 *            network_mode physpages swappages memguarantee cpuunits cpulimit
 *            cpus cpumask numproc_limit ioprio iolimit iopslimit diskspace
 *            layout memory_merge template_mount id_base description
 *            and the accounting (numbers, null while stopped): cpu (s),
 *            cpupct, mem, maxmem, failcnt, oomkills, swapused, iobytes,
 *            ioops, ksm_pages
 *            (the table in runtime/config_keys.c; `stratad --print-keys`).
 *
 *   Any verb that changes a container (create destroy start stop restart
 *   mount umount set suspend resume) also takes args.nowait (bool): while
 *   another request holds the container the request waits its turn, or
 *   with nowait fails at once with ST_EXIT_LOCKED (9).
 *   exec     ctid, args: argv (array), env (array), cwd, tty (bool)
 *            The request message carries 3 fds by SCM_RIGHTS (stdin, stdout,
 *            stderr of the client, in that order). The final reply comes when
 *            the command exits: {"ok":true,"result":{"exit_code":N}} (a
 *            signal-killed command gives 128+signo).
 *   enter    ctid, as exec with tty true and argv the container's shell
 *            (args.argv if given, else /bin/sh -l)
 *   exec/enter without the 3 fds fail with ST_EXIT_PROTOCOL; on a stopped
 *   container with 31.
 *   console  ctid: after {"ok":true,...} the connection carries raw bytes
 *            both ways between the client and the console pty; the last
 *            64 KiB of output are replayed first; many clients may attach;
 *            the client detaches by closing. Not available (100) for a
 *            container re-adopted after a daemon restart until its next start.
 *   template-build  args: name       (progress events, then the manifest)
 *   template-list                    -> {"templates": [manifest...]}
 *   template-remove args: name ("NAME[@VERSION]")
 *   template-import args: name, file (a path the daemon can read)
 *   template-export args: name, file
 *   template-update args: name      (progress events, then the manifest of
 *            version N+1; Debian templates only: apt upgrade of N's tree)
 *   rebase   ctid, args: ostemplate ("NAME@VERSION"), on_restart (bool)
 *            -> {"containers": [{"ctid","from","to","status":"rebased",
 *            "shadows":["etc/motd",...]}]} (status "pending" with on_restart
 *            on a running one: applied by its next start). 32 running, 17
 *            suspended, 91 no such version.
 *   rebase-all args: ostemplate, on_restart: every container of NAME not on
 *            VERSION; one entry each, failed ones with "status":"failed",
 *            "error", "exit".
 *   clone    ctid (source, stopped), args: dst (numeric CTID), name,
 *            hostname -> {"ctid": dst, "from": src}. 32 source running,
 *            44 dst exists. A LAYOUT=image source's image is copied.
 *   list args.diskspace (bool): every object also gets "diskspace", the
 *   KiB used by the private area (null if unknown; a walk of each upper
 *   layer, so only on request); the DISKSPACE key is "diskspace_limit".
 *   suspend / resume ctid: checkpoint to STATE_DIR/dumps/CTID with CRIU
 *            and stop (status "suspended": true), restore and run again.
 *            16 checkpoint failed (the container keeps running), 17 restore
 *            failed / no checkpoint, 31 suspend of a stopped one; start of a
 *            suspended container is refused (17) until resumed or destroyed.
 *            100 when stratad is built without checkpoint support.
 *            args.dumpfile (absolute path): the image dir instead (linked
 *            from STATE_DIR/dumps/CTID after a suspend); suspend replies
 *            {"dumpfile", "total_ms", "frozen_ms" (from the freeze to the
 *            kill), "image_bytes"}. resume args.keep (bool): keep the images (the
 *            default dir is moved to STATE_DIR/dumps/CTID.kept), reply
 *            {"kept": path or null}.
 *   suspend-all / resume-all (no ctid; args.keep): every running /
 *            suspended container -> {"containers": [{"ctid", "status":
 *            "suspended"|"resumed"|"failed", "error", "exit"}]}.
 */
#ifndef STRATA_RUNTIME_API_H
#define STRATA_RUNTIME_API_H

#define STRATA_API_DEFAULT_SOCKET "/run/strata/strata.sock"
#define STRATA_API_MAX_LINE (1024 * 1024)

#endif
