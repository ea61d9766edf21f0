"""Names of admin pages about llm_app's models that llm_app links to but does not serve.

An experiment's per-arm results count the tutor's replies, which llm_app does
not store, so the lessons side serves the results page and its CSV export
(``lessons_app/admin_experiment_results.py``) in the admin site's namespace,
beside the experiment admin's own pages, under these names. The experiment
admin links to them where the site has them. This module registers nothing,
so the module defining the admin site can import it while the site is built.
"""

RESULTS_URL_NAME = "llm_app_experiment_results"
RESULTS_CSV_URL_NAME = "llm_app_experiment_results_csv"
