"""`voiceprint`: status, wait and list against the results API of a deployed stack or of the local stack."""
