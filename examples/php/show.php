<?php
// The specification's show.php, verifying each request before it believes it.
//   WEBHOOK_SECRET=whsec_… php -S 127.0.0.1:8080 examples/php/show.php
// The secret is the client's: GET /client/{client_id}/signing-secret/.

/** What was signed: a POST's form body, or the parameters appended to a GET's URL (they start at agent_status=). */
function signed_content(): string {
    if ($_SERVER['REQUEST_METHOD'] === 'POST') {
        return file_get_contents('php://input');
    }
    $query = $_SERVER['QUERY_STRING'] ?? '';
    return preg_match('/(?:^|&)(agent_status=.*)$/', $query, $match) ? $match[1] : '';
}

/** Standard Webhooks: v1,base64(HMAC-SHA256("{id}.{timestamp}.{content}")), timestamp within 5 minutes. */
function verify(string $secret, string $content): ?string {
    $id = $_SERVER['HTTP_WEBHOOK_ID'] ?? '';
    $timestamp = $_SERVER['HTTP_WEBHOOK_TIMESTAMP'] ?? '';
    $signatures = $_SERVER['HTTP_WEBHOOK_SIGNATURE'] ?? '';
    if ($id === '' || !ctype_digit($timestamp) || $signatures === '') {
        return 'missing webhook headers';
    }
    if (abs(time() - (int) $timestamp) > 300) {
        return 'timestamp too old or too new';
    }
    $key = base64_decode(preg_replace('/^whsec_/', '', $secret), true);
    $expected = 'v1,' . base64_encode(hash_hmac('sha256', "$id.$timestamp.$content", $key, true));
    foreach (explode(' ', $signatures) as $signature) {
        if (hash_equals($expected, $signature)) {
            return null;
        }
    }
    return 'no matching signature';
}

$content = signed_content();
$refused = verify(getenv('WEBHOOK_SECRET') ?: '', $content);
if ($refused !== null) {
    error_log("refused: $refused");
    http_response_code(401);
    exit;
}
parse_str($content, $fields);
error_log("------ verified " . $_SERVER['HTTP_WEBHOOK_ID']);
foreach ($fields as $key => $value) {
    error_log("$key => $value");
}
http_response_code(204);
