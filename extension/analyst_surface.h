/*
 * analyst_surface.h
 *	  The analyst surface check and the minimum cell size of analyst views.
 */
#ifndef ONSHIKAKU_ANALYST_SURFACE_H
#define ONSHIKAKU_ANALYST_SURFACE_H

extern void osk_analyst_surface_init(void);

#endif							/* ONSHIKAKU_ANALYST_SURFACE_H */
