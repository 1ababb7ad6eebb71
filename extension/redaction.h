/*
 * redaction.h
 *	  Keeps personal numbers out of every message the server emits.
 */
#ifndef ONSHIKAKU_REDACTION_H
#define ONSHIKAKU_REDACTION_H

extern void osk_redaction_init(void);

#endif							/* ONSHIKAKU_REDACTION_H */
