"""Import of KPI workbooks and CSV files: parse, read, recognise layouts, validate, load; template."""
