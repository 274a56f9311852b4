"""Contract files in, point-in-time feature tables out."""

import warnings

# pandera's top-level import loads pyspark.pandas whenever pyspark is installed (pandera.typing),
# and pyspark.pandas warns that it does not fully support pandas 3. anbu never uses pyspark.pandas
# (its Spark engine is Spark SQL, parity-tested against DuckDB), so the warning spoke to every
# command's user, Spark or not, about an API nothing calls. Filtered here because every import of
# pandera goes through this package.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
