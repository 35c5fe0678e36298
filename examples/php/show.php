<?php
// The specification's show.php, verifying each request before it believes it, and dropping a webhook that is not
// newer (by Agent-Event-Sequence) than the last one it applied for that agent.
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

/**
 * The highest sequence applied for the agent before (null: none), and this one recorded if it is higher. Each request
 * is a PHP run of its own, so they are kept in a file, one per signing secret (per client), locked while it is read
 * and written.
 */
function last_applied(string $agent, int $sequence): ?int {
    $path = sys_get_temp_dir() . '/agent-events-' . substr(hash('sha256', getenv('WEBHOOK_SECRET') ?: ''), 0, 16) . '.json';
    $file = fopen($path, 'c+');
    flock($file, LOCK_EX);
    $applied = json_decode(stream_get_contents($file), true) ?: [];
    $last = $applied[$agent] ?? null;
    if ($last === null || $sequence > $last) {
        $applied[$agent] = $sequence;
        ftruncate($file, 0);
        rewind($file);
        fwrite($file, json_encode($applied));
    }
    fclose($file);
    return $last;
}

$content = signed_content();
$refused = verify(getenv('WEBHOOK_SECRET') ?: '', $content);
if ($refused !== null) {
    error_log("refused: $refused");
    http_response_code(401);
    exit;
}
parse_str($content, $fields);
$id = $_SERVER['HTTP_WEBHOOK_ID'];
$test = ($_SERVER['HTTP_AGENT_EVENT_TEST'] ?? '') === 'true';
$sync = ($_SERVER['HTTP_AGENT_EVENT_SYNC'] ?? '') === 'true';
// A test event is not tracked; a sync (the agent's state sent on request) is applied like a change when it is newer.
if (!$test) {
    $agent = "{$fields['agent_type']} agent {$fields['agent_id']}";
    $sequence = (int) ($_SERVER['HTTP_AGENT_EVENT_SEQUENCE'] ?? 0);
    $last = last_applied($agent, $sequence);
    if ($last !== null && $sequence <= $last) {
        error_log("dropped $id: sequence $sequence of $agent is not newer than $last");
        echo "dropped: not newer than sequence $last";
        exit;
    }
}
error_log("------ verified $id" . ($test ? ' (test)' : ($sync ? ' (sync)' : '')));
foreach ($fields as $key => $value) {
    error_log("$key => $value");
}
http_response_code(204);
