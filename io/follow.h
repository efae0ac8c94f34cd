/* Follow mode (tail -F) for the chunk and line iterators (follow.c).
 * Internal: the iterators' open calls call urio__follow_opt, and
 * urio__chunks_fini calls urio__follow_detach. */
#ifndef URIO_IO_FOLLOW_H
#define URIO_IO_FOLLOW_H

#include "chunks.h"

/* Makes cs wait at EOF for more data instead of ending, and, when path is
 * not NULL, survive the rotation of the file at path. Sets cs->at_eof and
 * cs->follow. 0 or -errno: -ESPIPE for a pipe or terminal, -ENOMEM. */
int urio__follow_attach(urio_chunks *cs, const char *path);
/* For the iterators' open calls: attaches follow mode if opts ask for it
 * (path NULL or "-": no rotation). 0 or -errno. */
int urio__follow_opt(urio_chunks *cs, const urio_lines_opts *opts,
		     const char *path);
/* From any thread, before detach: cs's next EOF ends the stream, and a
 * wait at EOF in progress ends now. No-op without follow mode. */
void urio__follow_stop(urio_chunks *cs);
/* Frees what urio__follow_attach set up; cs->follow may be NULL. */
void urio__follow_detach(urio_chunks *cs);

#endif
