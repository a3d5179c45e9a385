"""Read views of the assessment service, without HTTP: findings (view 1's leaves),
vulnerabilities (view 2), assessments, events, sub-assessments and history.

Each function takes a session (`ctx.read()`) and plain query values and returns frozen
dataclasses or, for the Azure-shaped sub-assessments, JSON-ready dicts. Bad input raises
`views.errors.InvalidQuery` naming the parameter; the API turns it into a 400 problem.
"""
