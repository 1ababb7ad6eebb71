/*
 * isolation.h
 *	  The insurer a statement acts for (row-level security predicate).
 */
#ifndef ONSHIKAKU_ISOLATION_H
#define ONSHIKAKU_ISOLATION_H

extern void osk_isolation_init(void);

#endif							/* ONSHIKAKU_ISOLATION_H */
