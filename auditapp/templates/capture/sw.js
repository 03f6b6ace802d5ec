// placeholder: replaced by the capture front-end
const CACHE = {{ cache_name | tojson }};
const PRECACHE = {{ precache | tojson }};
