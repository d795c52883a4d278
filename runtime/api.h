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
 *   create   ctid, args: ostemplate, config (sample name), name, hostname,
 *            ipadd (array), private, root, layout ... (any "set" option)
 *   destroy  ctid
 *   start    ctid, args: wait (bool)
 *   stop     ctid, args: fast (bool)
 *   restart  ctid
 *   status   ctid -> {"ctid","exist","mounted","running","suspended"} (bools)
 *   mount / umount ctid
 *   set      ctid, args: options {"ram":"256M","cpus":"1",...} (vzctl option
 *            names without dashes), save (bool), setmode ("restart"|"ignore")
 *   list     args: all (bool), stopped (bool) -> {"containers": [ {field: value} ]}
 *            every container object carries every list field (ctid, name,
 *            status, numproc, ip, hostname, ostemplate, diskspace, ...)
 *   exec     ctid, args: argv (array), env (array), cwd, tty (bool)
 *            The request message carries 3 fds by SCM_RIGHTS (stdin, stdout,
 *            stderr of the client, in that order). The final reply comes when
 *            the command exits: {"ok":true,"result":{"exit_code":N}} (a
 *            signal-killed command gives 128+signo).
 *   enter    ctid, as exec with tty true and argv the container's shell
 *   console  ctid: after {"ok":true,...} the connection carries raw bytes
 *            both ways between the client and the console pty; the client
 *            detaches by closing.
 *   template-build  args: name       (progress events, then the manifest)
 *   template-list                    -> {"templates": [manifest...]}
 *   template-remove args: name ("NAME[@VERSION]")
 *   template-import args: name, file (a path the daemon can read)
 *   template-export args: name, file
 *   suspend / resume ctid (checkpoint/restore; refused with a clear error
 *            until implemented)
 */
#ifndef STRATA_RUNTIME_API_H
#define STRATA_RUNTIME_API_H

#define STRATA_API_DEFAULT_SOCKET "/run/strata/strata.sock"
#define STRATA_API_MAX_LINE (1024 * 1024)

#endif
