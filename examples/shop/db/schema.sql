-- Schema of the shop example. splice loads it into a fresh database when the `db`
-- service starts (`init:` in ../splice.yaml); the products come from fixtures/products.yaml.

create table products (
    sku         text primary key,
    name        text not null,
    price_cents integer not null check (price_cents >= 0)
);

create table orders (
    id         serial primary key,
    sku        text not null references products (sku),
    qty        integer not null check (qty > 0),
    status     text not null default 'pending' check (status in ('pending', 'shipped')),
    created_at timestamptz not null default now()
);
