-- mart.dim_date from the staged dates. Guarded: a date whose attributes did not change is not
-- rewritten, so the refresh after every load leaves the table (and its row versions) as it was.
INSERT INTO mart.dim_date AS d (date, year, quarter, month, iso_year, iso_week, iso_weekday, weekday_name,
                                is_weekend, is_holiday_nl, is_holiday_lu, is_holiday_de, is_holiday_dk)
SELECT date, year, quarter, month, iso_year, iso_week, iso_weekday, weekday_name,
       is_weekend, is_holiday_nl, is_holiday_lu, is_holiday_de, is_holiday_dk
FROM mart_date_stage
ON CONFLICT (date) DO UPDATE SET
    year = EXCLUDED.year, quarter = EXCLUDED.quarter, month = EXCLUDED.month,
    iso_year = EXCLUDED.iso_year, iso_week = EXCLUDED.iso_week, iso_weekday = EXCLUDED.iso_weekday,
    weekday_name = EXCLUDED.weekday_name, is_weekend = EXCLUDED.is_weekend,
    is_holiday_nl = EXCLUDED.is_holiday_nl, is_holiday_lu = EXCLUDED.is_holiday_lu,
    is_holiday_de = EXCLUDED.is_holiday_de, is_holiday_dk = EXCLUDED.is_holiday_dk
WHERE (d.year, d.quarter, d.month, d.iso_year, d.iso_week, d.iso_weekday, d.weekday_name, d.is_weekend,
       d.is_holiday_nl, d.is_holiday_lu, d.is_holiday_de, d.is_holiday_dk)
      IS DISTINCT FROM
      (EXCLUDED.year, EXCLUDED.quarter, EXCLUDED.month, EXCLUDED.iso_year, EXCLUDED.iso_week, EXCLUDED.iso_weekday,
       EXCLUDED.weekday_name, EXCLUDED.is_weekend, EXCLUDED.is_holiday_nl, EXCLUDED.is_holiday_lu,
       EXCLUDED.is_holiday_de, EXCLUDED.is_holiday_dk)
