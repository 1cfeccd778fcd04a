INSERT INTO mart.dim_date (date, year, quarter, month, iso_year, iso_week, iso_weekday, weekday_name,
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
