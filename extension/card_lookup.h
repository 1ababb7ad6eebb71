/*
 * card_lookup.h
 *	  Counter lookups by card, straight from the insurer's partition, and
 *	  the per-backend cache of partitions that confirmation shares.
 */
#ifndef ONSHIKAKU_CARD_LOOKUP_H
#define ONSHIKAKU_CARD_LOOKUP_H

#include "postgres.h"

#include "access/attnum.h"

typedef struct OskPartition
{
	Oid			heap;			/* InvalidOid: the insurer has no partition */
	Oid			index;			/* the partition of the named index */
	int			natts;			/* columns of the parent */
	AttrNumber *attmap;			/* parent attnum -> partition attnum */
} OskPartition;

extern void osk_card_lookup_init(void);

/* An insurer's partition of a per-insurer table and of one of its indexes. */
extern const OskPartition *osk_partition_of(const char *table, const char *index_name,
											int32 insurer_id);

#endif							/* ONSHIKAKU_CARD_LOOKUP_H */
