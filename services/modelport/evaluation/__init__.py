"""`modelport eval` and `modelport rollout`: measure a deployed model on labelled data
through the live API, and move traffic to a new version only while it measures as well."""
