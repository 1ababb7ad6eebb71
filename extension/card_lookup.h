/*
 * card_lookup.h
 *	  Counter lookups by card, straight from the insurer's partition.
 */
#ifndef ONSHIKAKU_CARD_LOOKUP_H
#define ONSHIKAKU_CARD_LOOKUP_H

extern void osk_card_lookup_init(void);

#endif							/* ONSHIKAKU_CARD_LOOKUP_H */
