"""Rules named after the measure (M…) or requirement (L…) they implement."""
