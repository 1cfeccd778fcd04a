-- How many of the dates from %(first)s to %(last)s mart.dim_date has.
SELECT count(*) FROM mart.dim_date WHERE date BETWEEN %(first)s AND %(last)s
