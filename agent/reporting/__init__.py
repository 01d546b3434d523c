"""agent/reporting/ — what a clinician files: a PDF report and a FHIR R4 bundle of one analysis or turn.

``content.build_content`` gathers, from the same analysis ``cardioagent analyze`` runs (or from an agent
turn's tool trace), the findings with their quality flags, the interpretation statements with their
criteria, the citations, what the recording device stated, and the not-a-medical-device notice, as one typed
``ReportContent``. ``pdf.write_pdf`` (reportlab) and ``fhir.build_bundle`` (validated with ``fhir.resources``)
write it; ``commands`` adds ``cardioagent report FILE -o report.pdf [--fhir bundle.json]``.
"""
