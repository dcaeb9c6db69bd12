/**
 * Who acts on what readiness finds: an offender's or a drift item's owner is
 * an operator, a site owner (municipality, education, governorate…) or our own
 * team, named here once for the criteria and drift alike.
 */

/** Our own team: central servers, declaring links, devices. */
export const OUR_TEAM = "it-committee";
