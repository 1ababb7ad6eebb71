/*
 * confirmation.h
 *	  Online qualification confirmation by card (the counter's hot path).
 */
#ifndef ONSHIKAKU_CONFIRMATION_H
#define ONSHIKAKU_CONFIRMATION_H

extern void osk_confirmation_init(void);

#endif							/* ONSHIKAKU_CONFIRMATION_H */
