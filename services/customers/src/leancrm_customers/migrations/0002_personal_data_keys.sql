-- Each customer's data key (contract section 2.8), wrapped with the key-encryption key
-- named by kek_id (base64 of nonce + AES-256-GCM output): a copy of this table reveals
-- nothing without the KEK. forget_customer deletes the row in the transaction of
-- customer.forgotten, which erases every sealed copy of the customer's personal data.
CREATE TABLE IF NOT EXISTS personal_data_keys (
    customer_id UUID PRIMARY KEY,
    kek_id      TEXT NOT NULL,
    wrapped_key TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
