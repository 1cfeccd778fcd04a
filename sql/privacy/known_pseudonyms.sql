-- Which of these pseudonyms the number dimension already has (enriched when first seen).
SELECT number FROM cdr.number_enrichment WHERE number = ANY (%(pseudonyms)s);
